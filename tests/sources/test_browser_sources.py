"""The admins' Sources page in real headless Chromium: a ServiceNow fake synced (one source
fine, one failing), served by a real uvicorn server; admins see each source's records,
watermark and error; agents get no link and a 403 page. Screenshot: test-artifacts/
``sources-page.png``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from assistant import users
from core.paths import state_db
from core.settings import Settings
from core.store import state as state_store
from ingest.embed import HashingEmbedder
from ingest.sources.sync import sync_sources
from tests.assistant.web.conftest import PASSWORD, start_server
from tests.assistant.web.test_browser import ARTIFACTS, CHROMIUM, browser  # noqa: F401
from tests.sources.fake_servicenow import PASSWORD as SN_PASSWORD
from tests.sources.fake_servicenow import USERNAME, FakeServiceNow, serve

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="/usr/bin/chromium is missing: 'make browser' installs it"),
]


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    fake = FakeServiceNow()
    fake.generate(4, kbs=("IT",))
    with serve(fake) as url:
        sources = {
            "it": {"type": "servicenow", "url": url, "username_env": "SN_USER",
                   "password_env": "SN_PASSWORD", "knowledge_bases": ["IT"]},
            "hr": {"type": "servicenow", "url": url, "username_env": "SN_USER",
                   "password_env": "HR_PASSWORD_UNSET", "knowledge_bases": ["HR"]}}
        data = tmp_path / "data"
        settings = Settings(data_dir=data, embedder="hashing", sources=sources)
        sync_sources(settings, HashingEmbedder(), date(2026, 11, 25),
                     {"SN_USER": USERNAME, "SN_PASSWORD": SN_PASSWORD}, sleep=lambda s: None)
        with closing(state_store.connect(state_db(data))) as conn:
            users.add_user(conn, "admin", "admin", frozenset(), PASSWORD)
            users.add_user(conn, "agent", "agent", frozenset(), PASSWORD)
        monkeypatch.setenv("KB_SOURCES", json.dumps(sources))
        base, server, thread = start_server(data, HashingEmbedder())
        try:
            yield base
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def signed_in(browser: Any, base: str, name: str) -> Any:  # noqa: F811
    page = browser.new_context(viewport={"width": 1300, "height": 700},
                               base_url=base).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.errors = errors
    return page


def test_admins_see_each_sources_last_sync_and_agents_do_not(
        browser: Any, served: str) -> None:  # noqa: F811
    page = signed_in(browser, served, "admin")
    page.click("nav >> text=Sources")
    page.wait_for_selector("#sources tbody tr[data-source=hr]")
    rows = {r.get_attribute("data-source"): r.inner_text()
            for r in page.query_selector_all("#sources tbody tr")}
    assert set(rows) == {"it", "hr"}
    assert "OK" in rows["it"] and "\t4" in rows["it"] and "2026-11-02" in rows["it"]
    assert "FAILED" in rows["hr"].upper() and "HR_PASSWORD_UNSET is not set" in rows["hr"]
    assert SN_PASSWORD not in page.content()
    page.screenshot(path=str(ARTIFACTS / "sources-page.png"), full_page=True)
    assert page.errors == []

    agent = signed_in(browser, served, "agent")
    assert agent.query_selector("nav >> text=Sources") is None
    assert agent.goto(f"{served}/sources").status == 403
