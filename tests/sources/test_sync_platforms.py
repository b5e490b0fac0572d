"""The same sync scenarios through each platform's connector and its fake (ServiceNow,
Confluence Cloud, Confluence Data Center, Zendesk): first sync; an edit, a new record, a retired
record and a permission change picked up by the next incremental sync; a deletion and a failure
half-way (nothing removed, watermark kept, the next run resumes); a restricted record found
only by its group in ``kb ask``. Real HTTP, Chroma and SQLite; the HashingEmbedder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.paths import live_index
from core.settings import Settings
from core.store import catalog
from core.visibility import Audience, visible
from ingest.embed import HashingEmbedder
from ingest.sources.sync import SyncRun, source_states, sync_sources
from kb_cli.main import main as kb_main
from tests.sources import fake_confluence, fake_servicenow, fake_zendesk

DAY = date(2026, 11, 25)
GROUP = {"servicenow": "HR staff", "confluence": "hr-staff", "confluence-dc": "hr-staff",
         "zendesk": "IT Staff"}
SECRET = ("<h2>Symptoms</h2><p>The ZQXVAULT payroll vault rejects the badge.</p>"
          "<h2>Resolution</h2><ol><li>Open the vault console.</li><li>Re-enrol the badge.</li>"
          "</ol>")


class Platform:
    """One fake platform driven the same way: ids are the platform's own (kb adds NAME:)."""

    kind = ""
    env: dict[str, str] = {}

    def table(self, url: str) -> dict[str, Any]: ...
    def seed(self) -> list[str]: ...
    def add(self, title: str, body: str, group: str | None = None) -> str: ...
    def edit(self, rid: str, title: str) -> None: ...
    def retire(self, rid: str) -> None: ...
    def delete(self, rid: str) -> None: ...
    def restrict(self, rid: str, group: str) -> None: ...
    def fail_after_pages(self, k: int | None) -> None: ...


class ServiceNow(Platform):
    kind = "servicenow"
    env = {"SN_USER": fake_servicenow.USERNAME, "SN_PASSWORD": fake_servicenow.PASSWORD}

    def __init__(self) -> None:
        self.fake = fake_servicenow.FakeServiceNow()

    def table(self, url: str) -> dict[str, Any]:
        return {"type": "servicenow", "url": url, "username_env": "SN_USER",
                "password_env": "SN_PASSWORD", "knowledge_bases": ["IT"], "page_size": 2}

    def seed(self) -> list[str]:
        return self.fake.generate(5, kbs=("IT",))

    def add(self, title: str, body: str, group: str | None = None) -> str:
        return self.fake.add_article(title, body, kb="IT", can_read=(group,) if group else ())

    def edit(self, rid: str, title: str) -> None:
        self.fake.edit(rid, short_description=title)

    def retire(self, rid: str) -> None:
        self.fake.retire(rid)

    def delete(self, rid: str) -> None:
        self.fake.delete(rid)

    def restrict(self, rid: str, group: str) -> None:
        self.fake.set_criteria(rid, can_read=(group,))

    def fail_after_pages(self, k: int | None) -> None:
        self.fake.fail_after_pages(k)


class Zendesk(Platform):
    kind = "zendesk"
    env = {"ZD_USER": f"{fake_zendesk.EMAIL}/token", "ZD_TOKEN": fake_zendesk.TOKEN}
    SEGMENT = 103  # "IT Staff"

    def __init__(self) -> None:
        self.fake = fake_zendesk.FakeZendesk(incremental_page_size=2)

    def table(self, url: str) -> dict[str, Any]:
        return {"type": "zendesk", "url": url, "username_env": "ZD_USER",
                "password_env": "ZD_TOKEN", "locale": "en-us", "page_size": 2}

    def seed(self) -> list[str]:
        return [str(self.fake.add(f"How to fix VPN issue {i}",
                                  f"<h2>Fix</h2><p>Restart the VPN client, case {i}.</p>"))
                for i in range(5)]

    def add(self, title: str, body: str, group: str | None = None) -> str:
        return str(self.fake.add(title, body,
                                 user_segment_id=self.SEGMENT if group else None))

    def edit(self, rid: str, title: str) -> None:
        self.fake.edit(int(rid), title=title)

    def retire(self, rid: str) -> None:
        self.fake.edit(int(rid), draft=True)

    def delete(self, rid: str) -> None:
        self.fake.archive(int(rid))

    def restrict(self, rid: str, group: str) -> None:
        self.fake.edit(int(rid), user_segment_id=self.SEGMENT)

    def fail_after_pages(self, k: int | None) -> None:
        self.fake.fail_after_pages(k)


class Confluence(Platform):
    kind = "confluence"
    api = "cloud"
    env = {"CF_USER": fake_confluence.USER, "CF_TOKEN": fake_confluence.TOKEN}

    def __init__(self) -> None:
        self.fake = fake_confluence.FakeConfluence()

    def table(self, url: str) -> dict[str, Any]:
        return {"type": "confluence", "api": self.api, "url": url, "spaces": ["IT"],
                "username_env": "CF_USER", "password_env": "CF_TOKEN", "page_size": 2}

    def seed(self) -> list[str]:
        return [p.id for p in self.fake.generate(5, "IT")]

    def add(self, title: str, body: str, group: str | None = None) -> str:
        return self.fake.add_page("IT", title, body, groups=[group] if group else []).id

    def edit(self, rid: str, title: str) -> None:
        self.fake.edit(rid, title=title)

    def retire(self, rid: str) -> None:
        self.fake.retire(rid)

    def delete(self, rid: str) -> None:
        self.fake.delete(rid)

    def restrict(self, rid: str, group: str) -> None:
        self.fake.restrict(rid, groups=[group])

    def fail_after_pages(self, k: int | None) -> None:
        self.fake.fail_after_pages(k)


class ConfluenceDC(Confluence):
    kind = "confluence-dc"
    api = "datacenter"
    env = {"CF_PAT": fake_confluence.PAT}

    def table(self, url: str) -> dict[str, Any]:
        return {"type": "confluence", "api": "datacenter", "url": url, "spaces": ["IT"],
                "token_env": "CF_PAT", "page_size": 2}


PLATFORMS = {p.kind: p for p in (ServiceNow, Zendesk, Confluence, ConfluenceDC)}


@pytest.fixture(params=list(PLATFORMS))
def platform(request: pytest.FixtureRequest) -> Iterator[tuple[Platform, str]]:
    made = PLATFORMS[request.param]()
    fake = made.fake
    if isinstance(made, ServiceNow):
        with fake_servicenow.serve(made.fake) as url:
            yield made, url
        return
    url = fake.start()
    url = url if isinstance(url, str) else fake.base_url
    try:
        yield made, url
    finally:
        fake.stop()


def sync(data: Path, made: Platform, url: str) -> SyncRun:
    settings = Settings(data_dir=data, embedder="hashing", sources={"src": made.table(url)})
    return sync_sources(settings, HashingEmbedder(), DAY, made.env, sleep=lambda s: None)


def articles(data: Path) -> dict[str, Any]:
    with closing(catalog.connect(live_index(data).catalog)) as conn:
        return {a.id: a for a in catalog.iter_articles(conn)}


def watermark(data: Path) -> str:
    with closing(catalog.connect(live_index(data).catalog)) as conn:
        return source_states(conn)["src"]["watermark"]


def answerable(article: Any, *groups: str) -> bool:
    return visible(Audience(frozenset(groups)), article, DAY)


def test_incremental_changes_failure_and_resume(platform: tuple[Platform, str],
                                                tmp_path: Path) -> None:
    made, url = platform
    data = tmp_path / "data"
    ids = made.seed()
    first = sync(data, made, url)
    assert not first.failed, first.sources[0].error
    assert {f"src:{i}" for i in ids} <= set(articles(data))
    mark = watermark(data)

    edited, retired, restricted = ids[-1], ids[-2], ids[-3]
    made.edit(edited, "VPN client fails after the November update")
    made.retire(retired)
    made.restrict(restricted, GROUP[made.kind])
    new = made.add("Printer queue stuck on floor 3",
                   "<h2>Fix</h2><p>Clear the queue, then restart the spooler.</p>")
    second = sync(data, made, url)
    result = second.sources[0]
    assert not second.failed, result.error
    assert not result.full and result.fetched < len(ids) + 2
    now = articles(data)
    assert now[f"src:{edited}"].title == "VPN client fails after the November update"
    assert not answerable(now[f"src:{retired}"], GROUP[made.kind]) if f"src:{retired}" in now \
        else True
    assert now[f"src:{restricted}"].groups == (GROUP[made.kind],)
    assert not answerable(now[f"src:{restricted}"], "finance")
    assert answerable(now[f"src:{new}"])
    assert watermark(data) >= mark

    mark = watermark(data)
    made.delete(ids[-4])
    made.edit(edited, "VPN client fails after the December update")
    made.fail_after_pages(1)
    failed = sync(data, made, url)
    assert failed.failed
    error = failed.sources[0].error or ""
    assert all(secret not in error for secret in made.env.values())
    assert f"src:{ids[-4]}" in articles(data), "a failed sync removes nothing"
    assert watermark(data) == mark

    made.fail_after_pages(None)
    resumed = sync(data, made, url)
    assert not resumed.failed, resumed.sources[0].error
    now = articles(data)
    assert f"src:{ids[-4]}" not in now
    assert now[f"src:{edited}"].title == "VPN client fails after the December update"


def test_a_restricted_record_answers_only_its_group_in_kb_ask(
        platform: tuple[Platform, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    made, url = platform
    data = tmp_path / "data"
    made.seed()
    hidden = f"src:{made.add('Payroll vault badge rejected', SECRET, GROUP[made.kind])}"
    assert not sync(data, made, url).failed
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    monkeypatch.delenv("KB_CALIBRATION_FILE", raising=False)

    def found(*groups: str) -> bool:
        assert kb_main(["ask", "ZQXVAULT payroll vault rejects my badge", "--json",
                        "--data-dir", str(data), "--as-of", "2026-11-25",
                        "--groups", ",".join(groups)]) == 0
        answer = json.loads(capsys.readouterr().out)
        return hidden in {c["article_id"] for c in answer["citations"]} | {
            r["article_id"] for r in answer["related"]}

    assert found(GROUP[made.kind])
    assert not found() and not found("finance")
