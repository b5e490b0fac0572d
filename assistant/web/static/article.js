// The standalone article page (/articles/ID#anchor): what a citation URL opens.
"use strict";
(async () => {
  await kb.topbar();
  const container = document.getElementById("article");
  const id = decodeURIComponent(location.pathname.replace(/^\/articles\//, ""));
  try {
    const article = await kb.api("/api/articles/" + kb.articlePath(id));
    document.title = "kb · " + article.title;
    kb.renderArticle(container, article, decodeURIComponent(location.hash.slice(1)), null);
  } catch (err) {
    container.replaceChildren(kb.el("h1", {}, "Article unavailable"), kb.el("p", { class: "error" }, err.message));
  }
})();
