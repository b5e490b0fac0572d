// Shared by every page: DOM helper, API calls with the CSRF token, the top bar, the article view.
// Text always goes in through textContent; only the server-sanitised article HTML uses innerHTML.
"use strict";

const kb = (() => {
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function cookie(name) {
    const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  function headers(extra = {}) {
    return { "Content-Type": "application/json", "X-CSRF-Token": cookie("kb_csrf"), ...extra };
  }

  async function api(path, { method = "GET", body } = {}) {
    const response = await fetch(path, {
      method, credentials: "same-origin",
      headers: method === "GET" ? {} : headers(),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new Error("signed out");
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) throw new Error((data && data.detail) || response.statusText);
    return data;
  }

  function articlePath(id) {
    return id.split("/").map(encodeURIComponent).join("/");
  }

  function toast(message) {
    const node = el("div", { class: "toast", role: "status", text: message });
    document.body.append(node);
    setTimeout(() => node.remove(), 2600);
  }

  const PAGES = [
    ["/", "Assistant", "ask"], ["/review", "Review", "review"],
    ["/gaps", "Gaps", "gaps"], ["/dashboard", "Dashboard", "metrics"],
    ["/sources", "Sources", "sources"],
  ];

  async function topbar() {
    const me = await api("/api/me");
    const bar = document.querySelector(".topbar");
    const nav = el("nav", { class: "nav", "aria-label": "Pages" },
      PAGES.filter(([, , perm]) => me.permissions.includes(perm)).map(([href, label]) =>
        el("a", { href, class: location.pathname === href ? "active" : null,
                  "aria-current": location.pathname === href ? "page" : null }, label)));
    const logout = el("button", { class: "linkish", type: "button", id: "logout",
      onclick: async () => { await api("/api/logout", { method: "POST" }); location.href = "/login"; },
    }, "Sign out");
    bar.replaceChildren(
      el("a", { class: "brand", href: "/" }, el("span", { class: "logo" }, "kb"),
        el("span", {}, "kb ", el("small", {}, "service desk"))),
      nav, el("div", { class: "who" }, el("span", { id: "user-name" }, me.name),
        el("span", { class: "role" }, me.role), logout));
    return me;
  }

  function formatDate(iso) {
    if (!iso) return "never";
    return new Date(iso.length === 10 ? iso + "T00:00:00" : iso).toLocaleDateString(undefined,
      { year: "numeric", month: "short", day: "numeric" });
  }

  // Render GET /api/articles/{id} into `container`; scroll to and highlight `anchor`.
  function renderArticle(container, article, anchor, onClose) {
    const badges = [];
    if (article.stale) badges.push(el("span", { class: "badge stale", title: article.stale_reason || "" }, "Stale"));
    if (article.status !== "published") badges.push(el("span", { class: "badge" }, article.status));
    if ((article.groups || []).length) badges.push(el("span", { class: "badge" }, "Restricted: " + article.groups.join(", ")));
    const head = el("div", { class: "panel-head" },
      el("div", { class: "row" },
        el("h2", { id: "article-title" }, article.title),
        onClose ? el("button", { class: "close", type: "button", "aria-label": "Close article (Esc)",
          title: "Close (Esc)", onclick: onClose }, "\u00d7") : null),
      el("div", { class: "meta" },
        el("span", {}, "Owner: " + (article.owner || "none")),
        el("span", {}, "Reviewed: " + formatDate(article.last_reviewed)),
        article.category ? el("span", {}, article.category) : null, ...badges),
      article.stale && article.stale_reason ?
        el("div", { class: "note warn" }, "May be out of date: " + article.stale_reason) : null,
      article.flags.length ? el("ul", { class: "flag-list", "aria-label": "Open flags" },
        article.flags.map((f) => el("li", {}, el("b", {}, f.kind + ": "), f.reason))) : null);
    const body = el("div", { class: "article-body" });
    for (const section of article.sections) {
      const node = el("section", { "data-anchor": section.anchor });
      if (section.heading) node.append(el("h" + Math.min(section.level + 1, 5), {}, section.heading));
      const content = el("div");
      content.innerHTML = section.html; // sanitised by the server (nh3 allow-list); CSP blocks inline script
      node.append(content);
      body.append(node);
    }
    container.replaceChildren(head, body);
    const target = anchor !== undefined && anchor !== null ?
      [...body.querySelectorAll("section")].find((s) => s.dataset.anchor === anchor) : null;
    const scrolls = container.scrollHeight > container.clientHeight + 1;
    if (target) target.classList.add("target");
    if (target && scrolls) {
      container.scrollTop = Math.max(0, target.offsetTop - head.offsetHeight - 8);
    } else if (target) {
      target.scrollIntoView({ block: "start" });
    } else {
      container.scrollTop = 0;
    }
  }

  return { el, api, headers, cookie, articlePath, toast, topbar, renderArticle, formatDate };
})();
