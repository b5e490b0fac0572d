"""The pages' details in real headless Chromium, at desktop size and on a phone (390x844):
code blocks and trust signals in answers (rendered from crafted answers through the page's
own renderer, ``window.kbRender``), the question's length limit, the composer's height, the
top bar and the history on a phone, negative feedback counted once per answer, the review
queue opening on the owner's own articles, and the dashboard's bars clear of their titles.
Screenshots go to test-artifacts/ (``ui-*.png``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from assistant import usage, users
from core.paths import state_db
from core.store import state as state_store
from tests.assistant.web.conftest import PASSWORD, Server
from tests.assistant.web.test_browser import ARTIFACTS, CHROMIUM, browser  # noqa: F401

pytestmark = [
    pytest.mark.browser, pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="/usr/bin/chromium is missing: 'make browser' installs it"),
]

DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]

OpenAs = Callable[..., Any]

CODE = ("Get-WinEvent -FilterHashtable @{LogName='Security'; Id=4740} |\n"
        "  ForEach-Object { $_.Properties[1].Value }\n"
        "\n"
        "# <img src=x onerror=\"window.__kb_pwned = 'code'\"> [2] stays text")
ANSWER = "\n".join([
    "**Account locked out - Find the source**",
    "Find which device locks the account with PowerShell on a domain controller: [1]",
    "```powershell", CODE, "``` [2]",
    "Then run `gpupdate /force` and read `$x[1]` again. [1]",
    "- Clear saved credentials <b>in Credential Manager</b>. [2]",
])


def citation(n: int, article_id: str, title: str, section: str, **extra: Any) -> dict:
    return {"n": n, "article_id": article_id, "title": title, "section": section,
            "url": f"/articles/{article_id}#{section.lower()}", "last_reviewed": "2026-01-10",
            "stale": False, "stale_reason": None, "snippet": "", **extra}


def crafted_answer(**extra: Any) -> dict:
    return {"answered": True, "answer": ANSWER, "confidence": 0.82, "note": None,
            "answer_id": "0" * 32, "related": [], "citations": [
                citation(1, "accounts/account-locked-out.md", "Account locked out", "Resolution"),
                citation(2, "accounts/reset-your-password.md", "How to reset your password",
                         "Steps", stale=True, stale_reason="last reviewed 2024-11-20",
                         warning="Reported outdated by an agent on 2026-11-20, under review"),
            ], **extra}


@pytest.fixture
def open_as(browser: Any, server: Server) -> Iterator[OpenAs]:  # noqa: F811
    """A signed-in page at the given viewport (clipboard allowed); fails on page errors."""
    contexts, errors = [], []

    def sign_in(name: str, viewport: dict = DESKTOP) -> Any:
        phone = is_phone(viewport)
        context = browser.new_context(viewport=viewport, base_url=server.url, is_mobile=phone,
                                      has_touch=phone,
                                      permissions=["clipboard-read", "clipboard-write"])
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"),
                                          dialog.dismiss()))
        page.goto("/login")
        page.fill("#username", name)
        page.fill("#password", PASSWORD)
        page.press("#password", "Enter")
        page.wait_for_url(re.compile(r".*/$"))
        page.wait_for_selector("#user-name")
        return page

    yield sign_in
    for context in contexts:
        context.close()
    assert not errors, errors


def is_phone(viewport: dict) -> bool:
    return bool(viewport["width"] < 500)


def shot(page: Any, name: str, viewport: dict) -> None:
    size = "phone" if is_phone(viewport) else "desktop"
    page.screenshot(path=str(ARTIFACTS / f"ui-{name}-{size}.png"))


def box(locator: Any) -> dict:
    found = locator.bounding_box()
    assert found is not None, locator
    return dict(found)


def overlaps(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def fits_the_width(page: Any) -> None:
    """Nothing scrolls sideways: not the page, not the chat's thread."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate("""() => [...document.querySelectorAll('.thread, main.page')]
        .every((n) => n.scrollWidth <= n.clientWidth)""")


def show(page: Any, question: str, result: dict) -> Any:
    assert page.evaluate("typeof window.kbRender.show") == "function"
    page.evaluate("([q, r]) => window.kbRender.show(q, r)", [question, result])
    return page.locator(".turn .answer").last


# ---- 1. code in answers -----------------------------------------------------------------

@pytest.mark.parametrize("viewport", SIZES)
def test_code_blocks_render_as_code_with_a_copy_button(open_as: OpenAs, viewport: dict) -> None:
    page = open_as("agent", viewport)
    answer = show(page, "Account keeps locking out, how do I find the source?", crafted_answer())
    block = answer.locator(".code-block")
    assert block.count() == 1
    assert block.locator("pre code").text_content() == CODE  # exactly the code lines
    assert block.locator(".lang").inner_text() == "powershell"
    assert block.locator("pre .cite, pre button").count() == 0  # no chip inside the code
    assert block.locator(".code-source button.cite").all_inner_texts() == ["2"]  # after it
    assert page.evaluate("getComputedStyle(document.querySelector('.code-block pre'))"
                         ".whiteSpace") == "pre"
    assert "monospace" in page.evaluate(
        "getComputedStyle(document.querySelector('.code-block pre code')).fontFamily")
    inline = answer.locator(".lines p code")
    assert inline.all_inner_texts() == ["gpupdate /force", "$x[1]"]
    line = answer.locator(".lines p", has_text="gpupdate")
    assert line.locator("button.cite").all_inner_texts() == ["1"]  # `$x[1]` stays code
    # untrusted text stays text: no element from the answer's markup, nothing ran
    assert answer.locator("img, b:text('in Credential Manager')").count() == 0
    assert "<b>in Credential Manager</b>" in answer.inner_text()
    assert page.evaluate("typeof window.__kb_pwned") == "undefined"

    block.get_by_role("button", name="Copy code").click()
    page.wait_for_selector(".code-block .copy.done")
    assert block.locator(".copy").inner_text() == "Copied"
    assert page.evaluate("navigator.clipboard.readText()") == CODE

    # while streaming, an unclosed block shows the code so far
    partial = page.evaluate("""() => {
        const nodes = window.kbRender.lines("Run this: [1]\\n```\\nipconfig /all\\n");
        return nodes.map((n) => [n.className,
                                 n.querySelector('pre')?.textContent ?? n.textContent]);
    }""")
    assert partial == [["", "Run this: [1]"], ["code-block streaming", "ipconfig /all\n"]]
    answer.scroll_into_view_if_needed()
    block.scroll_into_view_if_needed()
    fits_the_width(page)
    shot(page, "code-block", viewport)


# ---- 2. trust signals on citations, escalation, related, other causes ----------------------

@pytest.mark.parametrize("viewport", SIZES)
def test_citation_warnings_escalation_and_other_causes(open_as: OpenAs, viewport: dict) -> None:
    page = open_as("agent", viewport)
    warning = "Reported outdated by an agent on 2026-11-20, under review"
    answer = show(page, "Account keeps locking out", crafted_answer(other_cases=[
        {"title": "Locked out after a password change on the phone",
         "url": "/articles/accounts/account-locked-out.md#cause"},
        {"title": "Not a link", "url": "javascript:window.__kb_pwned='other'"}]))
    chips = answer.locator(".sources .chip")
    warned = chips.filter(has_text="How to reset your password")
    assert warned.locator(".badge.warning").inner_text().lower() == "warning"
    assert warned.locator(".badge.stale").count() == 1  # both signals, each its own badge
    assert warned.locator(".badge.warning").get_attribute("title") == warning
    assert chips.filter(has_text="Account locked out").locator(".badge").count() == 0
    notes = answer.locator(".cite-warnings li")
    assert notes.count() == 1
    assert f"[2] How to reset your password: {warning}" in notes.inner_text()
    assert answer.locator(".cite.warned").count() >= 1
    assert answer.locator(".related").count() == 0  # `related: []` shows no block
    other = answer.locator(".other-cases")
    assert other.locator("h3").inner_text().lower() == "other causes"
    assert other.locator("a").all_inner_texts() == [
        "Locked out after a password change on the phone"]
    assert other.locator("li").nth(1).inner_text() == "Not a link"  # not a javascript: link
    answer.scroll_into_view_if_needed()
    shot(page, "citation-warning", viewport)
    other.locator("a").click()
    page.wait_for_selector("#panel:not([hidden]) .article-body section")
    assert "locked out" in page.inner_text("#article-title")
    page.keyboard.press("Escape")
    assert page.locator("#panel").is_hidden()

    missed = show(page, "Which VLAN is the lab printer on?", {
        "answered": False, "answer": "", "confidence": 0.12, "note": None,
        "answer_id": "1" * 32, "citations": [], "related": [],
        "escalation": "Assign to Network-L2"})
    assert "Not covered" in missed.inner_text()
    assert missed.locator(".next-step").inner_text().replace("\n", " ").lower().startswith(
        "next step")
    assert "Assign to Network-L2" in missed.locator(".next-step").inner_text()
    assert missed.locator(".related").count() == 0
    missed.scroll_into_view_if_needed()
    fits_the_width(page)
    shot(page, "not-covered-escalation", viewport)
    assert page.evaluate("typeof window.__kb_pwned") == "undefined"


# ---- 3. the question's length -------------------------------------------------------------

@pytest.mark.parametrize("viewport", SIZES)
def test_a_long_question_is_counted_and_blocked_not_cut(open_as: OpenAs, viewport: dict) -> None:
    page = open_as("agent", viewport)
    limit = page.locator("#question-limit")
    send = page.locator("#ask-form button[type=submit]")
    page.fill("#question", "v" * 790)
    assert limit.is_hidden() and send.is_enabled()
    page.fill("#question", "v" * 850)
    assert limit.inner_text() == "850 / 1,000" and send.is_enabled()
    page.fill("#question", "a" * 1000)
    assert limit.inner_text() == "1,000 / 1,000" and send.is_enabled()
    question = ("My laptop lost the VPN again. " * 80)[:2289] + "?"
    page.fill("#question", question)
    assert page.input_value("#question") == question  # nothing cut
    assert limit.inner_text().startswith(
        "Questions can be up to 1,000 characters; this one has 2,290")
    assert send.is_disabled()
    assert page.get_attribute("#question", "aria-invalid") == "true"
    page.press("#question", "Enter")
    page.wait_for_timeout(300)
    assert page.locator(".turn").count() == 0  # not sent
    assert page.input_value("#question") == question
    fits_the_width(page)
    assert box(limit)["x"] + box(limit)["width"] <= viewport["width"]
    shot(page, "question-limit", viewport)
    page.fill("#question", "b" * 990)
    assert limit.inner_text() == "990 / 1,000" and send.is_enabled()


# ---- 4. the composer's height ---------------------------------------------------------------

@pytest.mark.parametrize("viewport", SIZES)
def test_the_composer_returns_to_its_height_after_sending(open_as: OpenAs,
                                                          viewport: dict) -> None:
    page = open_as("agent", viewport)
    initial = box(page.locator("#question"))["height"]
    page.fill("#question", "VPN keeps disconnecting\nfrom home\nevery few minutes\non Wi-Fi\n"
                           "since Monday")
    grown = box(page.locator("#question"))["height"]
    assert grown > initial + 40
    page.press("#question", "Enter")
    assert box(page.locator("#question"))["height"] == initial  # at once, while it answers
    page.wait_for_selector(".answer .feedback")
    assert box(page.locator("#question"))["height"] == initial
    assert page.input_value("#question") == ""
    fits_the_width(page)
    shot(page, "after-send", viewport)


# ---- 5. the top bar and the history on a phone ------------------------------------------------

@pytest.mark.parametrize("viewport", SIZES)
def test_the_top_bar_fits_and_sign_out_is_reachable(open_as: OpenAs, viewport: dict) -> None:
    page = open_as("admin", viewport)  # the most links in the bar
    for path in ["/", "/review", "/gaps", "/dashboard"]:
        page.goto(path)
        page.wait_for_selector("#logout")
        fits_the_width(page)
        bar = box(page.locator(".topbar"))
        for item in [page.locator("#logout"), page.locator(".brand"),
                     *[page.locator(".nav a").nth(i) for i in range(4)]]:
            b = box(item)
            assert b["x"] >= 0 and b["x"] + b["width"] <= viewport["width"], (path, item)
            assert bar["y"] <= b["y"] and b["y"] + b["height"] <= bar["y"] + bar["height"]
        assert page.locator("#logout").is_visible()
    page.goto("/")
    page.wait_for_selector("#logout")
    shot(page, "top-bar", viewport)
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/login$"))


@pytest.mark.parametrize("viewport", SIZES)
def test_the_history_is_reachable(open_as: OpenAs, viewport: dict) -> None:
    page = open_as("agent", viewport)
    page.fill("#question", "Printer queue is stuck")
    page.press("#question", "Enter")
    page.wait_for_selector(".answer .feedback")
    history = page.locator("#history")
    toggle = page.locator("#history-toggle")
    if not is_phone(viewport):
        assert history.is_visible() and toggle.is_hidden()
        assert history.locator("li").all_inner_texts() == ["Printer queue is stuck"]
        return
    assert history.is_hidden() and toggle.is_visible()
    assert toggle.inner_text().replace("\n", " ").strip() == "History 1"
    toggle.click()
    assert history.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    pane = box(history)
    assert pane["x"] == 0 and pane["width"] <= viewport["width"]
    assert history.locator("li").all_inner_texts() == ["Printer queue is stuck"]
    assert history.get_by_role("button", name="+ New conversation").is_visible()
    shot(page, "history", viewport)
    page.keyboard.press("Escape")
    assert history.is_hidden() and toggle.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.id") == "history-toggle"
    toggle.click()
    page.mouse.click(viewport["width"] - 10, viewport["height"] // 2)  # the backdrop
    assert history.is_hidden()
    toggle.click()
    history.locator("li button").first.click()
    assert history.is_hidden()


# ---- 6. negative feedback counts answers ------------------------------------------------------

def negative_of(server: Server, article_id: str) -> int:
    state = state_store.connect(state_db(server.data_dir))
    try:
        signals = usage.article_signals(state).get(article_id)
    finally:
        state.close()
    return signals.negative if signals else 0


def test_a_thumbs_down_and_a_report_count_once_in_the_queue(open_as: OpenAs,
                                                             server: Server) -> None:
    page = open_as("agent")
    page.fill("#question", "How do I map a network drive?")
    page.press("#question", "Enter")
    page.wait_for_selector(".answer .sources .chip")
    answer = page.locator(".answer").last
    answer.get_by_role("button", name="Not helpful").click()
    select = answer.locator(".reports select").first
    article_id = select.get_attribute("data-article")
    assert article_id
    before = negative_of(server, article_id)
    answer.locator("textarea").fill("the drive letter is wrong")
    select.select_option("outdated")
    answer.get_by_role("button", name="Send feedback").click()
    page.wait_for_selector(".feedback >> text=feedback sent")
    assert negative_of(server, article_id) == before + 1

    page = open_as("admin")
    page.goto("/review")
    page.wait_for_selector("#rows tr[data-flag]")
    row = page.locator("#rows tr[data-flag]", has=page.locator(f".id:text-is('{article_id}')"),
                       has_text="reported").first
    assert f"{before + 1} negative feedback" in row.locator(".nums").inner_text()
    row.scroll_into_view_if_needed()
    shot(page, "review-negative", DESKTOP)


# ---- 7. the review queue opens on the owner's own articles ------------------------------------

def owner_user(server: Server, name: str) -> None:
    state = state_store.connect(state_db(server.data_dir))
    try:
        if users.get_user(state, name) is None:
            users.add_user(state, name, "owner", frozenset(), PASSWORD)
    finally:
        state.close()


def flag_owners(server: Server) -> list[str]:
    with server.client("admin") as client:
        return list(client.get("/api/flags", params={"state": ""}).json()["owners"])


@pytest.mark.parametrize("viewport", SIZES)
def test_an_owner_starts_on_their_own_articles(open_as: OpenAs, server: Server,
                                               viewport: dict) -> None:
    owners = [o for o in flag_owners(server) if "@" in o]
    assert len(owners) >= 2
    own = owners[0]
    # desktop: the user name is the owner's e-mail in other letter case; phone: its local part
    name = own.upper() if not is_phone(viewport) else own.split("@")[0]
    owner_user(server, name)
    page = open_as(name, viewport)
    page.goto("/review")
    page.wait_for_selector("#filter-note:not([hidden])")
    assert page.input_value("#f-owner") == own
    assert "your articles" in page.inner_text("#filter-note")
    assert own in page.inner_text("#filter-note")
    page.wait_for_selector("#rows tr[data-flag]")
    shown = page.locator("#rows tr[data-flag] .muted").all_inner_texts()
    assert shown and all(t.lower() == f"owner: {own}" for t in shown)
    fits_the_width(page)
    shot(page, "review-mine", viewport)
    page.get_by_role("button", name="Show all owners").click()
    page.locator("#filter-note").wait_for(state="hidden")
    assert page.input_value("#f-owner") == ""
    others = page.locator("#rows tr[data-flag] .muted").filter(
        has_not_text=re.compile(f"^Owner: {re.escape(own)}$", re.IGNORECASE))
    others.first.wait_for()


def test_an_owner_who_owns_nothing_and_an_admin_start_on_all(open_as: OpenAs) -> None:
    page = open_as("owner")  # a user name no article lists as its owner
    page.goto("/review")
    page.wait_for_selector("#filter-note:not([hidden])")
    assert page.input_value("#f-owner") == ""
    assert "No article lists you (owner) as its owner" in page.inner_text("#filter-note")
    page = open_as("admin")
    page.goto("/review")
    page.wait_for_selector("#rows tr[data-flag]")
    assert page.input_value("#f-owner") == ""
    assert page.locator("#filter-note").is_hidden()


# ---- 8. the dashboard ----------------------------------------------------------------------

@pytest.mark.parametrize("viewport", SIZES)
def test_dashboard_bars_and_lines_stay_clear_of_titles(open_as: OpenAs, server: Server,
                                                       viewport: dict) -> None:
    with server.client("agent") as client:
        assert client.post("/api/ask", json={"question": "VPN keeps disconnecting"}).is_success
    page = open_as("admin", viewport)
    page.goto("/dashboard")
    page.wait_for_selector("#most-cited .bar-row")
    page.wait_for_selector("#per-day svg rect")
    rows = page.locator("#most-cited .bar-row")
    for i in range(rows.count()):
        row = rows.nth(i)
        title, track = box(row.locator(".lbl")), box(row.locator(".track"))
        assert not overlaps(title, track), i
        assert not overlaps(box(row.locator(".val")), track), i
        fill = box(row.locator(".fill"))
        assert fill["x"] >= track["x"] and fill["x"] + fill["width"] <= track["x"] + \
            track["width"] + 0.5
    graphics = [box(page.locator("#per-day svg")), *[box(rows.nth(i).locator(".track"))
                                                     for i in range(rows.count())]]
    headings = page.locator("main h1, main h2, .kpi .label")
    for i in range(headings.count()):
        for g in graphics:
            assert not overlaps(box(headings.nth(i)), g), headings.nth(i).inner_text()
    fits_the_width(page)
    shot(page, "dashboard", viewport)
    page.screenshot(path=str(ARTIFACTS / ("ui-dashboard-full-" + (
        "phone" if is_phone(viewport) else "desktop") + ".png")), full_page=True)
