// Gaps: grouped unanswered / unhelpful questions with counts and examples; below them the
// last ticket-demand coverage run (GET /api/demand).
"use strict";
(async () => {
  const { el, api } = kb;
  await kb.topbar();
  renderDemand().catch((err) => kb.toast("Ticket demand: " + err.message));
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

async function renderDemand() {
  const { el, api } = kb;
  const body = document.getElementById("demand-body");
  const pct = (share) => `${Math.round(100 * share)}%`;
  const fill = (share) => {  // CSSOM, not a style attribute: the CSP allows no inline styles
    const node = el("div", { class: "fill" });
    node.style.width = Math.max(2, 100 * share) + "%";
    return node;
  };
  const { run } = await api("/api/demand");
  if (!run) {
    body.replaceChildren(el("div", { class: "card empty-state" }, "No ticket coverage run yet: import an export with 'kb tickets import FILE', then run 'kb coverage --tickets'."));
    return;
  }
  document.getElementById("demand-count").textContent =
    `run ${kb.formatDate(run.run_at)} \u00b7 ${run.tickets} tickets`;
  const kpi = (label, value, hint) => el("div", { class: "card kpi" },
    el("div", { class: "label" }, label), el("div", { class: "value" }, value),
    hint ? el("div", { class: "hint" }, hint) : null);
  const bars = (title, rows) => el("div", { class: "card" }, el("h2", {}, title),
    el("div", { class: "bars" }, rows.slice(0, 8).map((r) => el("div", { class: "bar-row" },
      el("div", { class: "bar-label" }, el("span", { class: "lbl", title: r.key }, r.key),
        el("span", { class: "val" }, `${pct(r.share)} of ${r.tickets}`)),
      el("div", { class: "track", "aria-hidden": "true" }, fill(r.share))))));
  const articleLink = (a) => el("a", { href: "/articles/" + kb.articlePath(a.article_id) }, a.title);
  const topics = run.clusters.length ? el("div", { class: "gap-grid demand-topics" }, run.clusters.map((c) =>
    el("article", { class: "card gap topic" },
      el("div", { class: "top" }, el("span", { class: "n", title: "tickets" }, String(c.size)),
        el("h2", {}, c.terms.slice(0, 4).join(", ") || "topic " + c.id)),
      el("div", { class: "reasons" }, el("span", { class: "badge high" }, `${pct(c.share)} of demand`),
        c.terms.slice(4).map((t) => el("span", { class: "badge kind" }, t))),
      c.examples.length ? el("ul", {}, c.examples.map((e) => el("li", {}, e.subject))) : null,
      c.nearest.length ? el("p", { class: "muted nearest" }, "Nearest articles: ",
        c.nearest.flatMap((a, i) => [i ? ", " : "", articleLink(a), ` (${a.similarity.toFixed(2)})`])) : null)))
    : el("div", { class: "card empty-state" }, "Every uncovered ticket is a one-off: no topic to write.");
  const top = run.top_articles.length ? el("table", { class: "queue demand-articles" },
    el("thead", {}, el("tr", {}, ["Article", "Tickets", "Share", "Review"].map((h) => el("th", {}, h)))),
    el("tbody", {}, run.top_articles.slice(0, 10).map((a) => el("tr", {},
      el("td", { class: "title" }, articleLink(a), el("div", { class: "id" }, a.article_id)),
      el("td", { class: "nums" }, el("b", {}, String(a.tickets))),
      el("td", { class: "nums" }, pct(a.share)),
      el("td", {}, a.stale ? el("span", { class: "badge stale", title: a.stale_reason || "" }, "stale") : null,
        a.flags.filter((f) => !(a.stale && f === "stale")).map((f) => el("span", { class: "badge kind" }, f)))))))
    : el("div", { class: "card empty-state" }, "No ticket would be answered confidently.");
  const q = run.clustering || {};
  body.replaceChildren(
    el("div", { class: "kpis" },
      kpi("Answered confidently", pct(run.share), `${run.covered} of ${run.tickets} tickets`),
      kpi("Topics to write", String(run.clusters.length), `${q.unclustered || 0} one-off tickets`),
      kpi("Embedding", `${run.embedding.tickets_per_s} /s`, run.embedding.model)),
    el("h2", { class: "demand-h" }, "Articles to write"),
    topics,
    el("h2", { class: "demand-h" }, "Articles that would answer the most tickets"),
    top,
    el("div", { class: "charts demand-breakdown" }, bars("By category", run.by_category),
      bars("By assignment group", run.by_group)),
    bars("By month", run.by_month));
}
