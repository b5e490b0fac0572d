"""End to end in real Chromium, on the sample KB with the real model: a question that names
one case gets that case first and the other cases as links, a multi-line command block is
intact and copyable with no citation chip inside it, and the article view numbers its steps
as the source does. At desktop size and on a phone (390x844); screenshots in test-artifacts/
(``answer-*.png``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.assistant.web.test_browser import ARTIFACTS, CHROMIUM, browser  # noqa: F401
from tests.assistant.web.test_browser_ui import SIZES, OpenAs, fits_the_width, is_phone, open_as  # noqa: F401

pytestmark = [
    pytest.mark.browser, pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="/usr/bin/chromium is missing: 'make browser' installs it"),
]
VPN = Path(__file__).resolve().parents[3] / "kb_samples" / "network" / "vpn-cannot-connect.md"
FLUSH = 'ipconfig /flushdns\nrasdial "Northwind VPN"'


def size(viewport: dict) -> str:
    return "phone" if is_phone(viewport) else "desktop"


def ask(page: Any, question: str) -> Any:
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_selector(".answer .sources .chip")
    return page.locator(".turn .answer").last


@pytest.mark.parametrize("viewport", SIZES)
def test_the_809_question_gets_its_own_case_first_and_copyable_commands(
        open_as: OpenAs, viewport: dict) -> None:  # noqa: F811
    page = open_as("agent", viewport)
    answer = ask(page, "VPN fails with error 809 at a hotel")
    text = answer.inner_text()
    steps = [line.strip() for line in text.split("\n") if line.strip()[:2].rstrip(".").isdigit()]
    assert steps and "Error 809" in steps[0], steps
    quoted = text.lower().split("other causes")[0]  # the links come after the answer
    for other in ("error 691", "error 812", "error 13801"):
        assert other not in quoted
    assert set(answer.locator(".other-cases a").all_inner_texts()) >= {
        "Error 691", "Error 812", "Error 13801"}
    codes = answer.locator(".code-block pre code").all_text_contents()
    assert FLUSH in codes  # the multi-line block whole, as in the source
    assert answer.locator(".code-block pre .cite, .code-block pre button").count() == 0
    block = answer.locator(".code-block", has_text="ipconfig /flushdns")
    block.locator("button.copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == FLUSH
    fits_the_width(page)
    page.screenshot(path=str(ARTIFACTS / f"answer-809-{size(viewport)}.png"), full_page=True)


@pytest.mark.parametrize("viewport", SIZES)
def test_the_article_view_numbers_steps_as_the_source(
        open_as: OpenAs, viewport: dict) -> None:  # noqa: F811
    source_numbers = [int(line.split(".")[0]) for line in VPN.read_text().splitlines()
                      if line[:1].isdigit() and ". " in line[:4]]
    assert source_numbers == [1, 2, 3, 4, 5, 6, 7]  # with code blocks between 5, 6 and 7
    page = open_as("agent", viewport)
    page.goto("/articles/network/vpn-cannot-connect.md#resolution")
    section = page.locator("section.cited")
    section.wait_for()
    # the number each top-level step shows: its value="N", else one more than the one before
    # (an <ol start=N> starts at N)
    numbers = page.evaluate("""(s) => {
        const shown = [];
        for (const ol of document.querySelector(s).querySelectorAll('ol')) {
          if (ol.parentElement.closest('li')) continue;
          let n = ol.hasAttribute('start') ? ol.start - 1 : 0;
          for (const li of ol.children) {
            n = li.hasAttribute('value') ? Number(li.getAttribute('value')) : n + 1;
            shown.push(n);
          }
        }
        return shown; }""", "section.cited")
    assert numbers == source_numbers
    assert section.locator("pre code").first.text_content().strip() == \
        "gpupdate /force\ncertutil -pulse"
    fits_the_width(page)
    page.screenshot(path=str(ARTIFACTS / f"answer-article-{size(viewport)}.png"),
                    full_page=True)
