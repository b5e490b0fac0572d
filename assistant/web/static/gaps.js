// Gaps: grouped unanswered / unhelpful questions with counts and examples.
"use strict";
(async () => {
  const { el, api } = kb;
  await kb.topbar();
  const grid = document.getElementById("gaps");
  const groups = await api("/api/gaps");
  const total = groups.reduce((n, g) => n + g.count, 0);
  document.getElementById("count").textContent = `${groups.length} topics \u00b7 ${total} questions`;
  const LABELS = { not_covered: "not covered", not_helpful: "not helpful" };
  if (!groups.length) {
    grid.replaceChildren(el("div", { class: "card empty-state" }, "No gaps recorded yet: every question so far was answered and nobody said it did not help."));
    return;
  }
  grid.replaceChildren(...groups.map((g) => el("article", { class: "card gap" },
    el("div", { class: "top" }, el("span", { class: "n", title: "times asked" }, String(g.count)), el("h2", {}, g.topic)),
    el("div", { class: "reasons" }, Object.entries(g.reasons).map(([reason, n]) =>
      el("span", { class: "badge " + (reason === "not_helpful" ? "medium" : "high") }, `${LABELS[reason] || reason} \u00d7 ${n}`)),
      el("span", { class: "badge" }, "last " + kb.formatDate(g.last_asked))),
    g.examples.length > 1 ? el("ul", {}, g.examples.slice(1).map((q) => el("li", {}, q))) : null)));
})();
