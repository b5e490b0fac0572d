"""The gaps page's ticket-demand section and the HTML coverage report, in real Chromium: the
kb_samples tickets (ServiceNow sample export) imported and measured with the real model,
then shown to an owner. Screenshots go to test-artifacts/ (gaps-demand.png,
coverage-report.png)."""

from __future__ import annotations

from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from assistant.service import assistant_from_settings
from core.paths import state_db
from core.settings import Settings
from core.store import state as state_store
from tests.assistant.helpers import REPO
from tests.assistant.web.conftest import Server
from tests.assistant.web.test_browser import ARTIFACTS, browser, pages, pytestmark, shot
from tickets.coverage import run_coverage
from tickets.importers import read_export
from tickets.report import render_report
from tickets.store import Ticket, save_run, save_tickets

__all__ = ["browser", "pages", "pytestmark"]
EXPORT = REPO / "evals" / "datasets" / "tickets" / "kb_samples_servicenow.csv"
COMMAND = "kb coverage --tickets --report coverage.html"


@pytest.fixture(scope="module")
def measured(server: Server, real_embedder: Any) -> dict[str, Any]:
    """The sample tickets imported into the server's data dir and measured, as
    ``kb tickets import`` and ``kb coverage --tickets`` do; the summary."""
    tickets = [t for t in read_export(EXPORT) if isinstance(t, Ticket)]
    assistant = assistant_from_settings(Settings(data_dir=server.data_dir), real_embedder)
    try:
        summary, outcomes = run_coverage(assistant, tickets, date.today())
    finally:
        assistant.state.close()
    with closing(state_store.connect(state_db(server.data_dir))) as conn:
        save_tickets(conn, tickets)
        save_run(conn, summary, outcomes)
    return summary


def test_gaps_page_shows_ticket_demand(pages: Any, server: Server,
                                       measured: dict[str, Any]) -> None:
    shown = server.client("owner").get("/api/demand").json()["run"]
    assert shown["tickets"] == 52 and len(shown["clusters"]) >= 2
    page = pages("owner")
    page.goto("/gaps")
    page.wait_for_selector("#demand-body .kpis")
    kpis = page.inner_text("#demand-body .kpis")
    assert f"{round(100 * shown['share'])}%" in kpis
    assert f"{shown['covered']} of 52 tickets" in kpis
    cards = page.locator(".demand-topics .topic")
    assert cards.count() == len(shown["clusters"])
    first = shown["clusters"][0]
    assert cards.nth(0).locator(".n").inner_text() == str(first["size"])
    assert ", ".join(first["terms"][:4]) in cards.nth(0).inner_text()
    for example in first["examples"]:
        assert example["subject"] in cards.nth(0).inner_text()
    rows = page.locator(".demand-articles tbody tr")
    assert rows.count() == min(10, len(shown["top_articles"]))
    assert shown["top_articles"][0]["title"] in rows.nth(0).inner_text()
    nearest = cards.nth(0).locator(".nearest a")
    assert nearest.count() == len(first["nearest"])
    assert nearest.nth(0).inner_text() == first["nearest"][0]["title"]
    assert "http" not in cards.nth(0).locator(".nearest").inner_text()
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.locator("#demand").scroll_into_view_if_needed()
    page.locator("#demand").screenshot(path=str(ARTIFACTS / "gaps-demand.png"))
    shot(page, "gaps-page")


def test_an_agent_does_not_get_the_section(server: Server,
                                           measured: dict[str, Any]) -> None:
    assert server.client("agent").get("/api/demand").status_code == 403


def test_html_report_renders(browser: Any, measured: dict[str, Any], tmp_path: Path) -> None:
    report = tmp_path / "coverage.html"
    report.write_text(render_report(measured, COMMAND), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1200, "height": 2000})
    try:
        page.goto(report.as_uri())
        assert page.inner_text("h1") == "Demand coverage"
        assert COMMAND in page.inner_text("body")
        assert page.locator(".topic").count() == len(measured["clusters"])
        page.screenshot(path=str(ARTIFACTS / "coverage-report.png"), full_page=True)
    finally:
        page.close()
