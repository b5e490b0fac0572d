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
  const historyPane = document.getElementById("history");
  const historyToggle = document.getElementById("history-toggle");
  const sendButton = form.querySelector("button[type=submit]");
  const limit = document.getElementById("question-limit");
  const MAX_QUESTION = 1000; // the server's limit (422 past it)
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
  // The answer is untrusted text: every piece goes into the page as a text node (el() and
  // textContent), never as HTML. Lines: `**Title - Section**` headings, lines ending with
  // `[n]` citation markers, and fenced code blocks (a "```" or "```lang" line, the code lines
  // verbatim, a closing "```" line carrying the block's markers, e.g. "``` [2]").
  const FENCE_OPEN = /^\s*```([^\s`]*)\s*((?:\[\d+\]\s*)*)$/;
  const MARKER = /\[(\d+)\]/g;

  function citeButton(n, citations) {
    const c = citations.find((x) => x.n === n);
    if (!c) return el("span", { class: "marker" }, `[${n}]`);
    const warned = c.stale || c.warning;
    return el("button", { class: "cite" + (c.warning ? " warned" : c.stale ? " stale" : ""), type: "button",
      title: `${c.title} \u2014 ${c.section}` + (c.warning ? ` (${c.warning})` : c.stale ? " (may be out of date)" : ""),
      "aria-label": `Open source ${n}: ${c.title}, ${c.section}` + (warned ? ` (${c.warning || "may be out of date"})` : ""),
      onclick: (e) => openArticle(c.article_id, anchorOf(c.url), e.currentTarget) }, String(n));
  }

  // `[n]` in plain text: a citation button once the citations are known, the text until then.
  function withMarkers(text, citations) {
    const out = [];
    let last = 0;
    for (const m of text.matchAll(MARKER)) {
      out.push(text.slice(last, m.index));
      out.push(citations ? citeButton(Number(m[1]), citations) : m[0]);
      last = m.index + m[0].length;
    }
    out.push(text.slice(last));
    return out;
  }

  // Inline `code` spans; markers inside them stay text.
  function inline(text, citations) {
    const out = [];
    let last = 0;
    for (const m of text.matchAll(/`([^`]+)`/g)) {
      out.push(...withMarkers(text.slice(last, m.index), citations));
      out.push(el("code", {}, m[1]));
      last = m.index + m[0].length;
    }
    out.push(...withMarkers(text.slice(last), citations));
    return out.filter((x) => x !== "");
  }

  function renderLine(text, citations) {
    const heading = /^\*\*(.+)\*\*$/.exec(text.trim());
    if (heading) return el("p", { class: "head" }, heading[1]);
    return el("p", { class: /^(\d+\.|-)\s/.test(text.trim()) ? "step" : null }, inline(text, citations));
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // no async clipboard (plain http on a host name): copy through a selected textarea
      const area = el("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
      area.value = text;
      document.body.append(area);
      area.select();
      const done = document.execCommand("copy");
      area.remove();
      return done;
    }
  }

  function codeBlock(block, citations) {
    const code = block.lines.join("\n");
    const copy = el("button", { class: "copy", type: "button", "aria-label": "Copy code" }, "Copy");
    copy.addEventListener("click", async () => {
      const done = await copyText(code);
      copy.textContent = done ? "Copied" : "Copy failed";
      copy.classList.toggle("done", done);
      setTimeout(() => { copy.textContent = "Copy"; copy.classList.remove("done"); }, 1800);
    });
    const markers = [...block.markers.matchAll(MARKER)].map((m) => Number(m[1]));
    return el("div", { class: "code-block" + (block.open ? " streaming" : "") },
      el("div", { class: "code-frame" },
        el("div", { class: "code-head" }, el("span", { class: "lang" }, block.lang || "code"), copy),
        el("pre", {}, el("code", {}, code))),
      markers.length ? el("div", { class: "code-source" }, el("span", { class: "muted" }, "Source"),
        markers.map((n) => (citations ? citeButton(n, citations) : el("span", { class: "marker" }, `[${n}]`)))) : null);
  }

  // The whole answer text -> paragraphs, headings and code blocks (also for a partial,
  // streamed answer: an unclosed block shows what has come so far).
  function renderLines(text, citations) {
    const nodes = [];
    let block = null;
    for (const line of text.split("\n")) {
      if (block) {
        if (line.trimStart().startsWith("```")) {
          block.markers = line.trimStart().slice(3);
          block.open = false;
          nodes.push(codeBlock(block, citations));
          block = null;
        } else {
          block.lines.push(line);
        }
        continue;
      }
      const open = FENCE_OPEN.exec(line);
      if (open) block = { lang: open[1], lines: [], markers: open[2], open: true };
      else if (line.trim()) nodes.push(renderLine(line, citations));
    }
    if (block) nodes.push(codeBlock(block, citations));
    return nodes;
  }

  function chip(c) {
    return el("button", { class: "chip" + (c.warning ? " warned" : ""), type: "button",
      onclick: (e) => openArticle(c.article_id, anchorOf(c.url), e.currentTarget) },
      el("span", { class: "n" }, `[${c.n}]`), el("span", {}, c.title),
      el("span", { class: "sec" }, "\u00b7 " + c.section),
      c.stale ? el("span", { class: "badge stale", title: c.stale_reason || "past its review date" }, "Stale") : null,
      c.warning ? el("span", { class: "badge warning", title: c.warning }, "Warning") : null);
  }

  function sources(citations) {
    const warned = citations.filter((c) => c.warning);
    return el("div", { class: "sources" }, el("h3", {}, "Sources"), el("div", { class: "chips" }, citations.map(chip)),
      warned.length ? el("ul", { class: "cite-warnings", "aria-label": "Warnings on sources" }, warned.map((c) =>
        el("li", {}, el("span", { class: "icon", "aria-hidden": "true" }, "!"),
          el("span", {}, el("b", {}, `[${c.n}] ${c.title}: `), c.warning)))) : null);
  }

  function relatedChips(related) {
    return el("div", { class: "chips" }, related.map((r) => el("button", { class: "chip", type: "button",
      onclick: (e) => openArticle(r.article_id, anchorOf(r.url || ""), e.currentTarget) }, el("span", {}, r.title))));
  }

  // "Other causes": links to other articles' cases. Same-site /articles/ links open in the
  // side panel; other http(s) links open in a new tab; anything else stays text.
  function otherCase(item) {
    const url = String(item.url || "");
    const title = String(item.title || url);
    const local = /^\/articles\/([^#?]+)(?:#(.*))?$/.exec(url);
    if (local) {
      const articleId = local[1].split("/").map(decodeURIComponent).join("/");
      return el("a", { href: url, onclick: (e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey) return;
        e.preventDefault();
        openArticle(articleId, local[2] ? decodeURIComponent(local[2]) : "", e.currentTarget);
      } }, title);
    }
    if (/^https?:\/\//i.test(url)) return el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, title);
    return el("span", {}, title);
  }

  function otherCases(items) {
    return el("div", { class: "other-cases" }, el("h3", {}, "Other causes"),
      el("ul", {}, items.map((item) => el("li", {}, otherCase(item)))));
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
    const related = r.related || [];
    card.className = "answer" + (r.answered ? "" : " not-covered");
    const parts = [];
    if (!r.answered) {
      parts.push(el("div", { class: "headline" }, el("span", { class: "icon", "aria-hidden": "true" }, "!"),
        "Not covered by the knowledge base"));
      parts.push(el("p", { class: "muted" }, "No article answers this with enough confidence. It has been logged for the content owners."));
      if (r.escalation) parts.push(el("div", { class: "next-step", role: "note" },
        el("span", { class: "label" }, "Next step"), el("span", { class: "text" }, r.escalation)));
      if (related.length) parts.push(el("div", { class: "related" }, el("h3", {}, "Related articles"), relatedChips(related)));
    } else {
      parts.push(el("div", { class: "lines" }, renderLines(r.answer, r.citations)));
      if (r.note) parts.push(el("div", { class: "note warn", role: "note" }, r.note));
      if ((r.other_cases || []).length) parts.push(otherCases(r.other_cases));
      parts.push(sources(r.citations));
      if (related.length) parts.push(el("div", { class: "related" }, el("h3", {}, "See also"), relatedChips(related)));
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
      title: t.question, onclick: () => { closeHistory(false); thread.children[i]?.scrollIntoView({ behavior: "smooth" }); } },
      el("span", { class: "dot" + (t.result.answered ? "" : " miss"), "aria-hidden": "true" }), t.question))));
    historyToggle.querySelector(".n").textContent = turns.length ? String(turns.length) : "";
  }

  // On narrow screens the history is an overlay opened from the "History" button.
  function openHistory() {
    document.body.classList.add("history-open");
    historyToggle.setAttribute("aria-expanded", "true");
    document.getElementById("history-close").focus();
  }

  function closeHistory(refocus = true) {
    if (!document.body.classList.contains("history-open")) return;
    document.body.classList.remove("history-open");
    historyToggle.setAttribute("aria-expanded", "false");
    if (refocus) historyToggle.focus();
  }

  // ---- the question's length -------------------------------------------------------------
  const count = (n) => n.toLocaleString("en-US");
  // what the server counts: characters (code points) after stripping surrounding whitespace
  const questionLength = () => [...input.value.trim()].length;

  function updateLimit() {
    const n = questionLength();
    const over = n > MAX_QUESTION;
    limit.hidden = n < MAX_QUESTION * 0.8;
    limit.className = "limit" + (over ? " over" : n > MAX_QUESTION * 0.95 ? " near" : "");
    limit.textContent = over ? `Questions can be up to ${count(MAX_QUESTION)} characters; this one has ${count(n)}. Shorten it to send.`
      : `${count(n)} / ${count(MAX_QUESTION)}`;
    input.setAttribute("aria-invalid", String(over));
    sendButton.disabled = over || input.disabled;
    return !over;
  }

  function fitComposer() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 180) + "px";
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
    input.style.height = ""; // back to one line
    input.disabled = true;
    updateLimit();
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
          lines.replaceChildren(...renderLines(text, null)); // a code block may still be open
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
      updateLimit();
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
    if (question && updateLimit()) ask(question);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  input.addEventListener("input", () => { fitComposer(); updateLimit(); });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && document.body.classList.contains("history-open")) { e.preventDefault(); closeHistory(); return; }
    if (e.key === "Escape" && !panel.hidden) { e.preventDefault(); closePanel(); }
    if (e.key === "/" && document.activeElement === document.body) { e.preventDefault(); input.focus(); }
  });
  historyToggle.addEventListener("click", openHistory);
  document.getElementById("history-close").addEventListener("click", () => closeHistory());
  document.getElementById("history-backdrop").addEventListener("click", () => closeHistory());
  document.getElementById("new-chat").addEventListener("click", () => {
    turns = [];
    save();
    thread.replaceChildren(emptyState());
    renderHistory();
    closePanel();
    closeHistory(false);
    input.focus();
  });

  // The renderer on a namespace, for the page-level tests (and the browser console):
  // kbRender.lines(text, citations) -> nodes; kbRender.show(question, result) adds a turn
  // rendered from a result object (the POST /api/ask shape) without saving it.
  window.kbRender = Object.freeze({
    lines: (text, citations = null) => renderLines(text, citations),
    show: (question, result) => {
      const { node, card } = addTurn(question);
      renderResult(card, { question, result });
      return node;
    },
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
