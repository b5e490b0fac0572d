// Owners' review queue: filter, act on flags (acknowledge, dismiss, resolve, reviewed, reassign,
// reopen: assistant/review_actions.py says what each does), history.
"use strict";
(() => {
  const { el, api, articlePath, toast } = kb;
  const rows = document.getElementById("rows");
  const filters = document.getElementById("filters");
  const panel = document.getElementById("panel");
  const STATE_LABELS = { active: "Needs action", open: "Open", acknowledged: "Acknowledged",
    dismissed: "Dismissed", fixed: "Fixed", "": "Any state" };
  const ownerSelect = document.getElementById("f-owner");
  const note = document.getElementById("filter-note");
  let loadedOptions = false;
  let me = null;
  let mine = null; // the article owner that is the signed-in owner, if any

  // The article owner the signed-in user is: their user name matched case-insensitively
  // against the owners, else the one owner whose e-mail's local part is their name.
  function ownerOf(user, owners) {
    const name = user.name.toLowerCase();
    const exact = owners.find((o) => o.toLowerCase() === name);
    if (exact) return exact;
    const local = owners.filter((o) => o.includes("@") && o.split("@")[0].toLowerCase() === name);
    return local.length === 1 ? local[0] : null;
  }

  function showAll() { ownerSelect.value = ""; load(); }

  function describeFilter() {
    const owner = ownerSelect.value;
    ownerSelect.classList.toggle("active-filter", Boolean(owner));
    note.classList.toggle("mine", Boolean(owner) && owner === mine);
    if (owner) {
      note.replaceChildren(el("span", {}, owner === mine ? "Showing flags on your articles, owner " :
        "Showing flags on articles owned by ", el("b", {}, owner), "."), el("button", { class: "btn small", type: "button", onclick: showAll }, "Show all owners"));
    } else if (me && me.role === "owner" && !mine) {
      note.replaceChildren(`No article lists you (${me.name}) as its owner, so the queue shows all owners.`);
    } else {
      note.replaceChildren();
    }
    note.hidden = !note.childNodes.length;
  }

  function fillSelect(select, values, keep) {
    const current = select.value;
    select.replaceChildren(...keep, ...values.map((v) => el("option", { value: v }, v)));
    select.value = values.includes(current) ? current : "";
  }

  async function openArticle(id) {
    panel.hidden = false;
    try {
      const article = await api("/api/articles/" + articlePath(id));
      kb.renderArticle(panel, article, null, () => { panel.hidden = true; });
    } catch (err) { panel.replaceChildren(el("p", { class: "error" }, err.message)); }
  }

  async function act(flag, action, extra = {}) {
    try {
      const updated = await api(`/api/flags/${flag.id}/actions`, { method: "POST", body: { action, ...extra } });
      // the server's own line: every change it made, and what stayed open and why
      toast(updated.message || `${flag.title}: ${updated.state}`);
      await load();
    } catch (err) { toast(err.message); }
  }

  function inlineForm(cell, label, placeholder, onSubmit) {
    cell.querySelector(".inline-form")?.remove();
    const input = el("input", { type: "text", placeholder, "aria-label": label, required: true, maxlength: "500" });
    const form = el("form", { class: "inline-form",
      onsubmit: (e) => { e.preventDefault(); if (input.value.trim()) onSubmit(input.value.trim()); },
      onkeydown: (e) => { if (e.key === "Escape") form.remove(); } },
      input, el("button", { class: "btn small primary", type: "submit" }, label));
    cell.append(form);
    input.focus();
  }

  async function toggleHistory(flag, cell, button) {
    const open = cell.querySelector(".history-list");
    if (open) { open.remove(); button.textContent = "History"; return; }
    const events = await api(`/api/flags/${flag.id}/history`);
    button.textContent = "Hide history";
    cell.append(el("ol", { class: "history-list" }, events.length ? events.map((e) =>
      el("li", {}, `${kb.formatDate(e.at)} \u00b7 ${e.by}: ${e.kind} ${e.from_state ? e.from_state + " \u2192 " : ""}${e.to_state}` +
        (e.note ? ` (${e.note})` : ""))) : el("li", {}, "No history yet")));
  }

  function evidence(flag) {
    const shown = Object.fromEntries(Object.entries(flag.evidence).filter(([k]) => k !== "key"));
    if (!Object.keys(shown).length) return null;
    return el("details", {}, el("summary", {}, "Evidence"), el("pre", {}, JSON.stringify(shown, null, 2)));
  }

  function row(flag) {
    const actionsCell = el("td");
    const active = flag.state === "open" || flag.state === "acknowledged";
    const buttons = el("div", { class: "actions" },
      active && flag.state === "open" ? el("button", { class: "btn small", type: "button", onclick: () => act(flag, "acknowledge") }, "Acknowledge") : null,
      active ? el("button", { class: "btn small", type: "button",
        onclick: () => inlineForm(actionsCell, "Dismiss", "Why is this not a problem?", (reason) => act(flag, "dismiss", { reason })) }, "Dismiss\u2026") : null,
      active ? el("button", { class: "btn small", type: "button",
        onclick: () => inlineForm(actionsCell, "Resolve", "What was done to fix it?", (reason) => act(flag, "resolve", { reason })) }, "Resolve\u2026") : null,
      active ? el("button", { class: "btn small", type: "button", onclick: () => act(flag, "reviewed") }, "Mark reviewed") : null,
      active && (flag.kind === "obsolete" || flag.kind === "partly-obsolete") ? el("button", { class: "btn small", type: "button",
        title: "Mark reviewed, confirming the products it applies to are still right",
        onclick: () => act(flag, "reviewed", { confirm_products: true }) }, "Products still right") : null,
      !active ? el("button", { class: "btn small", type: "button", onclick: () => act(flag, "reopen") }, "Reopen") : null,
      el("button", { class: "btn small", type: "button",
        onclick: () => inlineForm(actionsCell, "Reassign", "new owner (e-mail)", (owner) => act(flag, "reassign", { owner })) }, "Reassign\u2026"));
    const historyButton = el("button", { class: "btn small", type: "button" }, "History");
    historyButton.addEventListener("click", () => toggleHistory(flag, actionsCell, historyButton));
    buttons.append(historyButton);
    actionsCell.append(buttons);
    return el("tr", { class: active ? null : "done", "data-flag": flag.id },
      el("td", {}, el("div", { class: "title" }, el("button", { type: "button", onclick: () => openArticle(flag.article_id) }, flag.title)),
        el("div", { class: "id" }, flag.article_id), el("div", { class: "muted" }, "Owner: " + (flag.owner || "none"))),
      el("td", {}, el("span", { class: "badge " + flag.severity }, flag.severity), " ",
        el("span", { class: "badge kind" }, flag.kind), el("div", { class: "reason" }, flag.reason), evidence(flag)),
      el("td", { class: "nums" }, el("div", {}, el("b", {}, String(flag.cited)), " citations"),
        el("div", {}, el("b", {}, String(flag.negative_feedback)), " negative feedback")),
      el("td", {}, el("span", { class: "badge " + flag.state }, flag.state)),
      actionsCell);
  }

  async function load() {
    const params = new URLSearchParams(new FormData(filters));
    const data = await api("/api/flags?" + params.toString());
    if (!loadedOptions) {
      fillSelect(document.getElementById("f-kind"), data.kinds, [el("option", { value: "" }, "All kinds")]);
      fillSelect(ownerSelect, data.owners, [el("option", { value: "" }, "All owners")]);
      const state = document.getElementById("f-state");
      state.replaceChildren(...[...data.states, ""].map((s) => el("option", { value: s }, STATE_LABELS[s] || s)));
      state.value = "active";
      loadedOptions = true;
      // an owner starts on their own articles; admins (and owners who own none) on all
      mine = me ? ownerOf(me, data.owners) : null;
      if (me && me.role === "owner" && mine) {
        ownerSelect.value = mine;
        return load();
      }
    }
    describeFilter();
    document.getElementById("count").textContent = `${data.total} flag${data.total === 1 ? "" : "s"}`;
    rows.replaceChildren(...(data.items.length ? data.items.map(row) :
      [el("tr", {}, el("td", { colspan: "5", class: "empty-state" }, "Nothing to review with these filters. \ud83c\udf89"))]));
  }

  filters.addEventListener("change", load);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !panel.hidden) panel.hidden = true; });
  kb.topbar().then((user) => { me = user; return load(); }).catch((err) => toast(err.message));
})();
