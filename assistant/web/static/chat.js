// The agents' chat: streamed answers, citation chips that open the article, feedback, history.
"use strict";

(() => {
  const { el, api, headers, articlePath, toast } = kb;
  const thread = document.getElementById("thread");
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const panel = document.getElementById("panel");
  const layout = document.querySelector(".chat-layout");
  const historyList = document.getElementById("history-list");
  const STORE = "kb-conversation";
  let turns = JSON.parse(sessionStorage.getItem(STORE) || "[]");
  let lastOpener = null;

  function save() { sessionStorage.setItem(STORE, JSON.stringify(turns)); }

  // ---- the article side panel -------------------------------------------------------------
  async function openArticle(articleId, anchor, opener) {
    lastOpener = opener || document.activeElement;
    panel.hidden = false;
    layout.classList.add("with-panel");
    panel.replaceChildren(el("div", { class: "panel-head" }, el("p", { class: "muted" }, "Loading\u2026")));
    try {
      const article = await api("/api/articles/" + articlePath(articleId));
      kb.renderArticle(panel, article, anchor, closePanel);
      panel.querySelector(".close").focus({ preventScroll: true });
    } catch (err) {
      panel.replaceChildren(el("div", { class: "panel-head" },
        el("div", { class: "row" }, el("h2", {}, "Article unavailable"),
          el("button", { class: "close", type: "button", "aria-label": "Close", onclick: closePanel }, "\u00d7")),
        el("p", { class: "error" }, err.message)));
    }
  }

  function closePanel() {
    panel.hidden = true;
    layout.classList.remove("with-panel");
    if (lastOpener && document.body.contains(lastOpener)) lastOpener.focus();
  }

  function anchorOf(url) {
    const i = url.indexOf("#");
    return i < 0 ? "" : decodeURIComponent(url.slice(i + 1));
  }

  // ---- rendering an answer ---------------------------------------------------------------
  function citeButton(n, citations) {
    const c = citations.find((x) => x.n === n);
    if (!c) return el("span", {}, `[${n}]`);
    return el("button", { class: "cite" + (c.stale ? " stale" : ""), type: "button",
      title: `${c.title} \u2014 ${c.section}` + (c.stale ? " (may be out of date)" : ""),
      "aria-label": `Open source ${n}: ${c.title}, ${c.section}`,
      onclick: (e) => openArticle(c.article_id, anchorOf(c.url), e.currentTarget) }, String(n));
  }

  function renderLine(text, citations) {
    const heading = /^\*\*(.+)\*\*$/.exec(text.trim());
    if (heading) return el("p", { class: "head" }, heading[1]);
    const p = el("p", { class: /^(\d+\.|-)\s/.test(text) ? "step" : null });
    let last = 0;
    for (const m of text.matchAll(/\[(\d+)\]/g)) {
      p.append(text.slice(last, m.index));
      p.append(citations ? citeButton(Number(m[1]), citations) : m[0]);
      last = m.index + m[0].length;
    }
    p.append(text.slice(last));
    return p;
  }

  function chip(c) {
    return el("button", { class: "chip", type: "button",
      onclick: (e) => openArticle(c.article_id, anchorOf(c.url), e.currentTarget) },
      el("span", { class: "n" }, `[${c.n}]`), el("span", {}, c.title),
      el("span", { class: "sec" }, "\u00b7 " + c.section),
      c.stale ? el("span", { class: "badge stale", title: c.stale_reason || "past its review date" }, "Stale") : null);
  }

  function relatedChips(related) {
    return el("div", { class: "chips" }, related.map((r) => el("button", { class: "chip", type: "button",
      onclick: (e) => openArticle(r.article_id, anchorOf(r.url || ""), e.currentTarget) }, el("span", {}, r.title))));
  }

  // Feather's thumbs-up outline (MIT), drawn here so no icon font or emoji font is needed
  function thumbIcon(down) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    for (const [k, v] of Object.entries({ viewBox: "0 0 24 24", width: "16", height: "16", fill: "none",
      stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round",
      "aria-hidden": "true", class: down ? "flip" : "" })) svg.setAttribute(k, v);
    const path = document.createElementNS(NS, "path");
    path.setAttribute("d", "M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3");
    svg.append(path);
    return svg;
  }

  function feedbackBar(turn) {
    const bar = el("div", { class: "feedback" });
    if (turn.feedback) {
      bar.append(el("span", {}, turn.feedback));
      return bar;
    }
    const up = el("button", { class: "thumb", type: "button", "aria-label": "Helpful", title: "Helpful", "aria-pressed": "false" }, thumbIcon(false), "Yes");
    const down = el("button", { class: "thumb", type: "button", "aria-label": "Not helpful", title: "Not helpful", "aria-pressed": "false" }, thumbIcon(true), "No");
    const formSlot = el("div", { class: "feedback-form-slot" });
    const open = (helpful) => {
      up.setAttribute("aria-pressed", String(helpful));
      down.setAttribute("aria-pressed", String(!helpful));
      formSlot.replaceChildren(feedbackForm(turn, helpful, bar));
      formSlot.querySelector("textarea").focus();
    };
    up.addEventListener("click", () => open(true));
    down.addEventListener("click", () => open(false));
    bar.append(el("span", {}, "Was this helpful?"), up, down, formSlot);
    return bar;
  }

  function feedbackForm(turn, helpful, bar) {
    const comment = el("textarea", { placeholder: helpful ? "Anything to add? (optional)" :
      "What was missing or wrong? (optional)", "aria-label": "Comment", maxlength: "2000" });
    const reports = (turn.result.citations || []).filter((c, i, all) =>
      all.findIndex((x) => x.article_id === c.article_id) === i).map((c) => {
      const select = el("select", { "aria-label": `Report ${c.title}`, "data-article": c.article_id },
        el("option", { value: "" }, "no problem"), el("option", { value: "wrong" }, "is wrong"),
        el("option", { value: "outdated" }, "is outdated"));
      return el("label", {}, el("span", {}, `[${c.n}] ${c.title}`), select);
    });
    const send = el("button", { class: "btn primary small", type: "submit" }, "Send feedback");
    const cancel = el("button", { class: "btn small", type: "button", onclick: () => f.remove() }, "Cancel");
    const f = el("form", { class: "feedback-form",
      onkeydown: (e) => { if (e.key === "Escape") { e.stopPropagation(); f.remove(); } },
      onsubmit: async (e) => {
        e.preventDefault();
        send.disabled = true;
        const picked = [...f.querySelectorAll("select")].filter((s) => s.value)
          .map((s) => ({ article_id: s.dataset.article, kind: s.value, comment: comment.value || null }));
        try {
          const res = await api("/api/feedback", { method: "POST", body: {
            answer_id: turn.result.answer_id, helpful, comment: comment.value || null, reports: picked } });
          turn.feedback = "Thanks \u2014 feedback sent" + (res.flags_opened.length ?
            `; ${res.flags_opened.length} article${res.flags_opened.length > 1 ? "s" : ""} flagged for the owner` : "") + ".";
          save();
          bar.replaceWith(feedbackBar(turn));
          toast("Feedback sent");
        } catch (err) { send.disabled = false; toast(err.message); }
      } }, comment,
      reports.length ? el("div", { class: "reports" }, el("span", { class: "muted" }, "Is a cited article wrong or outdated?"), reports) : null,
      el("div", { class: "row" }, send, cancel));
    return f;
  }

  function renderResult(card, turn) {
    const r = turn.result;
    card.className = "answer" + (r.answered ? "" : " not-covered");
    const parts = [];
    if (!r.answered) {
      parts.push(el("div", { class: "headline" }, el("span", { class: "icon", "aria-hidden": "true" }, "!"),
        "Not covered by the knowledge base"));
      parts.push(el("p", { class: "muted" }, "No article answers this with enough confidence. It has been logged for the content owners."));
      if (r.related.length) parts.push(el("div", { class: "related" }, el("h3", {}, "Related articles"), relatedChips(r.related)));
    } else {
      parts.push(el("div", { class: "lines" }, r.answer.split("\n").filter((l) => l.trim()).map((l) => renderLine(l, r.citations))));
      if (r.note) parts.push(el("div", { class: "note warn", role: "note" }, r.note));
      parts.push(el("div", { class: "sources" }, el("h3", {}, "Sources"), el("div", { class: "chips" }, r.citations.map(chip))));
      if (r.related.length) parts.push(el("div", { class: "related" }, el("h3", {}, "See also"), relatedChips(r.related)));
    }
    parts.push(el("div", { class: "meta-line" }, `confidence ${Math.round(r.confidence * 100)}%`));
    parts.push(feedbackBar(turn));
    card.replaceChildren(...parts);
  }

  // Scroll the thread so this turn's question is at the top (or as far as the content allows).
  function reveal(node) { thread.scrollTop = node.offsetTop - 16; }

  function addTurn(question) {
    const card = el("div", { class: "answer", "aria-live": "polite" });
    const node = el("div", { class: "turn" }, el("div", { class: "question" }, question), card);
    thread.querySelector(".empty")?.remove();
    thread.append(node);
    reveal(node);
    return { node, card };
  }

  function renderHistory() {
    historyList.replaceChildren(...turns.map((t, i) => el("li", {}, el("button", { type: "button",
      title: t.question, onclick: () => thread.children[i]?.scrollIntoView({ behavior: "smooth" }) },
      el("span", { class: "dot" + (t.result.answered ? "" : " miss"), "aria-hidden": "true" }), t.question))));
  }

  // ---- streaming -------------------------------------------------------------------------
  async function* events(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        yield { event, data: data ? JSON.parse(data) : null };
      }
    }
  }

  async function ask(question) {
    const { node, card } = addTurn(question);
    const status = el("p", { class: "status" }, "Searching the knowledge base\u2026");
    const lines = el("div", { class: "lines" });
    card.replaceChildren(status, lines);
    input.value = "";
    input.disabled = true;
    let text = "";
    try {
      const response = await fetch("/api/ask/stream", { method: "POST", credentials: "same-origin",
        headers: headers(), body: JSON.stringify({ question }) });
      if (response.status === 401) { location.href = "/login?next=/"; return; }
      if (!response.ok) {
        const data = await response.json().catch(() => ({}));
        throw new Error(data.detail || response.statusText);
      }
      for await (const { event, data } of events(response)) {
        if (event === "token") {
          status.remove();
          text += data.text;
          if (data.text.trim()) lines.append(renderLine(data.text.replace(/\n$/, ""), null));
          reveal(node);
        } else if (event === "citations") {
          const turn = { question, result: { ...data, answer: text.replace(/\n$/, "") } };
          turns.push(turn);
          save();
          renderResult(card, turn);
          renderHistory();
          reveal(node);
        } else if (event === "error") {
          throw new Error(data.detail);
        }
      }
    } catch (err) {
      card.replaceChildren(el("p", { class: "error" }, "Could not answer: " + err.message));
    } finally {
      input.disabled = false;
      input.focus();
    }
  }

  // ---- wiring ----------------------------------------------------------------------------
  function emptyState() {
    const examples = ["VPN keeps disconnecting", "How do I reset my password?",
      "Outlook search not working", "Printer queue is stuck"];
    return el("div", { class: "empty" }, el("h1", {}, "How can I help with this call?"),
      el("p", {}, "Ask in your own words. Answers quote the knowledge base and cite the exact section."),
      el("div", { class: "examples" }, examples.map((q) => el("button", { type: "button", onclick: () => ask(q) }, q))));
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const question = input.value.trim();
    if (question) ask(question);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 180) + "px";
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !panel.hidden) { e.preventDefault(); closePanel(); }
    if (e.key === "/" && document.activeElement === document.body) { e.preventDefault(); input.focus(); }
  });
  document.getElementById("new-chat").addEventListener("click", () => {
    turns = [];
    save();
    thread.replaceChildren(emptyState());
    renderHistory();
    closePanel();
    input.focus();
  });

  kb.topbar().then(() => {
    if (turns.length) {
      for (const turn of turns) renderResult(addTurn(turn.question).card, turn);
    } else {
      thread.replaceChildren(emptyState());
    }
    renderHistory();
    input.focus();
  });
})();
