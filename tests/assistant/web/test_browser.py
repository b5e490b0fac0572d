"""The pages in real headless Chromium (Debian's, driven by Playwright; nothing downloaded):
sign in, ask, read the streamed answer, open a citation, give feedback, dismiss a flag as an
owner, and an article with script payloads that must not run. Screenshots of every page go
to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.assistant.helpers import REPO
from tests.assistant.web.conftest import PASSWORD, XSS_ARTICLE, Server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

pytestmark = [
    pytest.mark.browser, pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="/usr/bin/chromium is missing: 'make browser' installs it"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def pages(browser: Any, server: Server) -> Iterator[Any]:
    """Opens a signed-in page per call, in its own browser context; fails on page errors."""
    contexts, errors = [], []

    def open_as(name: str) -> Any:
        context = browser.new_context(viewport={"width": 1400, "height": 900},
                                      base_url=server.url)
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

    yield open_as
    for context in contexts:
        context.close()
    assert not errors, errors


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_login_page(browser: Any, server: Server) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 760})
    page.goto(f"{server.url}/review")
    assert page.url.endswith("/login?next=/review")
    page.fill("#username", "agent")
    page.fill("#password", "not-the-password")
    page.press("#password", "Enter")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "wrong user name or password" in page.inner_text("#login-error")
    shot(page, "login")
    page.close()


def test_agent_asks_opens_a_citation_and_gives_feedback(pages: Any) -> None:
    page = pages("agent")
    page.fill("#question", "VPN keeps disconnecting every few minutes")
    page.press("#question", "Enter")
    page.wait_for_selector(".answer .sources .chip")
    answer = page.locator(".answer").last
    assert "VPN drops every few minutes" in answer.inner_text()
    assert answer.locator(".lines p").count() > 3
    assert answer.locator("button.cite").count() > 3
    page.locator("#history-list li").first.wait_for()
    answer.locator("button.cite").first.click()
    page.wait_for_selector("#panel:not([hidden]) .article-body section")
    assert page.inner_text("#article-title") == "VPN drops every few minutes"
    assert page.locator("#panel section.target").count() == 1
    shot(page, "chat-citation")
    page.keyboard.press("Escape")
    assert page.locator("#panel").is_hidden()

    answer.get_by_role("button", name="Not helpful").click()
    answer.locator("textarea").fill("the registry fix did not work")
    answer.locator(".reports select").first.select_option("wrong")
    answer.get_by_role("button", name="Send feedback").click()
    page.wait_for_selector(".feedback >> text=feedback sent")
    assert "flagged for the owner" in answer.locator(".feedback").inner_text()

    page.fill("#question", "What is the canteen menu on Fridays?")
    page.press("#question", "Enter")
    page.wait_for_selector(".answer.not-covered .feedback")
    assert "Not covered" in page.locator(".answer.not-covered").inner_text()
    related = page.locator(".answer.not-covered .related")  # none rather than an empty one
    assert related.count() == 0 or related.locator(".chip").count() > 0
    shot(page, "chat")


def test_stale_citation_shows_a_badge(pages: Any) -> None:
    page = pages("agent")
    page.fill("#question", "How do I set up an automatic out of office reply?")
    page.press("#question", "Enter")
    page.wait_for_selector(".answer .sources .chip")
    chips = page.locator(".answer .sources .chip")
    texts = [chips.nth(i).inner_text() for i in range(chips.count())]
    stale = page.locator(".answer .sources .badge.stale")
    if stale.count():  # only when the cited article is past its review date today
        assert any("Stale" in t for t in texts)
        assert page.locator(".answer .note.warn").count() == 1


def test_owner_dismisses_a_flag(pages: Any) -> None:
    page = pages("owner")
    page.goto("/review")
    page.wait_for_selector("#rows tr[data-flag]")
    shot(page, "review")
    row = page.locator("#rows tr[data-flag]").first
    flag_id = row.get_attribute("data-flag")
    row.get_by_role("button", name="History").click()
    row.locator(".history-list li").first.wait_for()
    row.get_by_role("button", name="Dismiss\u2026").click()
    row.locator(".inline-form input").fill("checked with the owner: intended")
    row.locator(".inline-form button").click()
    page.wait_for_selector(f"#rows tr[data-flag='{flag_id}']", state="detached")
    page.select_option("#f-state", "dismissed")
    page.wait_for_selector(f"#rows tr[data-flag='{flag_id}']")
    assert "dismissed" in page.locator(f"#rows tr[data-flag='{flag_id}']").inner_text().lower()


def test_gaps_and_dashboard_pages(pages: Any) -> None:
    page = pages("admin")
    page.goto("/gaps")
    page.wait_for_selector(".gap")
    shot(page, "gaps")
    page.goto("/dashboard")
    page.wait_for_selector("#per-day svg rect")
    assert page.locator(".kpi").count() == 5
    shot(page, "dashboard")


def test_script_payloads_in_articles_do_not_run(pages: Any) -> None:
    page = pages("agent")
    page.goto(f"/articles/{XSS_ARTICLE}#resolution")
    page.wait_for_selector(".article-body section")
    assert "<script>window.__kb_pwned = 'script'</script>" in page.inner_text(".article-body")
    assert page.locator(".article-body script, .article-body img").count() == 0
    page.goto("/articles/endpoint/monitor-flickers.md")
    page.wait_for_selector("#article-title")
    assert "<script>" in page.inner_text("#article-title")
    shot(page, "article-xss")
    page.goto("/")
    page.fill("#question", "laptop screen goes black, display driver reset")
    page.press("#question", "Enter")
    page.wait_for_selector(".answer .sources .chip")
    page.locator(".answer .sources .chip").first.click()
    page.wait_for_selector("#panel .article-body section")
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__kb_pwned") == "undefined"


def test_api_docs_render_from_local_files(browser: Any, server: Server) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{server.url}/docs")
    page.wait_for_selector(".swagger-ui .opblock")
    assert "/api/ask" in page.inner_text(".swagger-ui")
    assert all(url.startswith(server.url) or url.startswith("data:") for url in requested)
    shot(page, "api-docs")
    page.close()
