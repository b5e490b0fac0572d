// Sources (admins): each source's last sync from GET /api/sources.
"use strict";
(async () => {
  const { el, api } = kb;
  await kb.topbar();
  const rows = await api("/api/sources");
  document.getElementById("count").textContent = `${rows.length} source${rows.length === 1 ? "" : "s"}`;
  document.getElementById("empty").hidden = rows.length > 0;
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "never");
  document.querySelector("#sources tbody").replaceChildren(...rows.map((s) => {
    const status = s.error
      ? [el("span", { class: "badge stale" }, "Failed"), el("div", { class: "sub error" }, s.error)]
      : [el("span", { class: "badge" }, s.last_success ? "OK" : "not synced")];
    const counts = s.records === null ? "\u2013"
      : `${s.records}` + (s.removed ? ` (${s.removed} removed)` : "") + (s.skipped ? ` \u00b7 ${s.skipped} skipped` : "");
    return el("tr", { "data-source": s.name },
      el("td", {}, el("strong", {}, s.name), s.url ? el("div", { class: "sub" }, s.url) : null),
      el("td", {}, (s.type || "?") + (s.configured ? "" : " (not in kb.toml)")),
      el("td", {}, counts), el("td", {}, when(s.last_success)), el("td", {}, when(s.last_attempt)),
      el("td", {}, s.watermark || "\u2013"), el("td", {}, ...status));
  }));
})();
