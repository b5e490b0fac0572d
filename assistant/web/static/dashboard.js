// Dashboard: KPI tiles, questions per day (stacked SVG bars), most-cited articles, KB health.
"use strict";
(async () => {
  const { el, api } = kb;
  const SVG = "http://www.w3.org/2000/svg";
  await kb.topbar();
  const m = await api("/api/metrics?days=30");
  const t = m.totals;
  const pct = (x) => (x === null || x === undefined ? "\u2013" : Math.round(x * 100) + "%");
  document.getElementById("window").textContent = `Last ${m.days} days to ${kb.formatDate(m.as_of)} \u00b7 all-time totals`;

  const tiles = [
    ["Questions", String(t.questions), `${t.answered} answered \u00b7 ${t.not_covered} not covered`],
    ["Answered", pct(t.answer_rate), "share of questions answered from the KB"],
    ["Helpful", pct(t.helpful_rate), `${t.helpful} of ${t.rated} rated answers`],
    ["Citing stale articles", pct(t.stale_share), `${t.stale_cited} of ${t.answered} answers`],
    ["Open flags", String(m.health.open_flags), "waiting for content owners"],
  ];
  document.getElementById("kpis").replaceChildren(...tiles.map(([label, value, hint]) =>
    el("div", { class: "card kpi" }, el("div", { class: "label" }, label),
      el("div", { class: "value" }, value), el("div", { class: "hint" }, hint))));

  // stacked bars: answered (blue) under not covered (amber)
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  const W = 640, H = 220, pad = { l: 34, r: 8, t: 10, b: 26 };
  const days = m.per_day;
  const top = Math.max(1, ...days.map((d) => d.questions));
  const step = (W - pad.l - pad.r) / days.length;
  const y = (v) => H - pad.b - (v / top) * (H - pad.t - pad.b);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Questions per day" });
  for (const tick of [0, Math.ceil(top / 2), top]) {
    chart.append(svg("line", { x1: pad.l, x2: W - pad.r, y1: y(tick), y2: y(tick), stroke: "#e2e6ee" }));
    chart.append(svg("text", { x: pad.l - 6, y: y(tick) + 4, "text-anchor": "end", "font-size": "11", fill: "#5d6778" }, String(tick)));
  }
  days.forEach((d, i) => {
    const x = pad.l + i * step + step * 0.15, w = step * 0.7;
    const title = `${d.day}: ${d.answered} answered, ${d.not_covered} not covered`;
    const bar = (top, bottom, fill) => {
      const rect = svg("rect", { x, y: y(top), width: w, height: y(bottom) - y(top), fill, rx: 2 });
      rect.append(svg("title", {}, title));
      chart.append(rect);
    };
    if (d.answered) bar(d.answered, 0, "#1f4fd1");
    if (d.not_covered) bar(d.questions, d.answered, "#f0a33a");
    if ((days.length - 1 - i) % 7 === 0) {
      chart.append(svg("text", { x: x + w / 2, y: H - 8, "text-anchor": "middle", "font-size": "11", fill: "#5d6778" }, d.day.slice(5)));
    }
  });
  document.getElementById("per-day").replaceChildren(chart);

  const most = m.most_cited;
  const maxCited = Math.max(1, ...most.map((a) => a.count));
  document.getElementById("most-cited").replaceChildren(...(most.length ? most.map((a) => {
    const fill = el("div", { class: "fill" });
    fill.style.width = Math.max(4, (a.count / maxCited) * 100) + "%";
    // the title and count on their own line above the bar, so no bar or marker crosses the text
    return el("div", { class: "bar-row", title: a.article_id },
      el("div", { class: "bar-label" }, el("span", { class: "lbl" }, a.title),
        el("span", { class: "val" }, String(a.count))),
      el("div", { class: "track", "aria-hidden": "true" }, fill));
  }) : [el("p", { class: "muted" }, "No answers yet.")]));

  const h = m.health;
  const cells = [["Articles", h.articles], ["Published", h.published], ["Restricted", h.restricted],
    ["Stale (published)", h.stale], ["Open flags", h.open_flags],
    ...Object.entries(h.open_flags_by_kind).map(([k, n]) => ["Flags: " + k, n])];
  document.getElementById("health").replaceChildren(...cells.map(([label, n]) =>
    el("div", {}, el("b", {}, String(n)), el("span", { class: "muted" }, label))));
})();
