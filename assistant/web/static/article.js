// The standalone article page (/articles/ID#anchor): what a citation URL opens.
// The section whose anchor is in the URL fragment (the cited one) is highlighted ("cited",
// styled by article.css), also when the fragment changes while the page is open.
"use strict";
(async () => {
  await kb.topbar();
  const container = document.getElementById("article");
  const id = decodeURIComponent(location.pathname.replace(/^\/articles\//, ""));
  const anchor = () => (location.hash ? decodeURIComponent(location.hash.slice(1)) : null);

  function highlight(scroll) {
    const wanted = anchor();
    let target = null;
    for (const section of container.querySelectorAll(".article-body section")) {
      const cited = wanted !== null && section.dataset.anchor === wanted;
      section.classList.toggle("cited", cited);
      section.classList.toggle("target", cited);
      if (cited) {
        section.setAttribute("aria-current", "location");
        target = target || section;
      } else {
        section.removeAttribute("aria-current");
      }
    }
    if (target && scroll) target.scrollIntoView({ block: "start" });
  }

  try {
    const article = await kb.api("/api/articles/" + kb.articlePath(id));
    document.title = "kb · " + article.title;
    kb.renderArticle(container, article, anchor(), null);
    highlight(false);
    window.addEventListener("hashchange", () => highlight(true));
  } catch (err) {
    container.replaceChildren(kb.el("h1", {}, "Article unavailable"), kb.el("p", { class: "error" }, err.message));
  }
})();
