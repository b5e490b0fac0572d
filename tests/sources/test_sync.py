"""``kb sync`` end to end against a real local fake of ServiceNow's Table API and Zendesk's
Help Center API: first sync, an incremental sync picking up an edit, a new record, a retired
one, a deleted one and a permission change, a failure half-way (nothing removed, watermark
kept, the next run resumes), a restricted record invisible to other groups in ``kb ask`` and
the web app, and ``kb import`` of an export beside a folder. The HashingEmbedder keeps it to
seconds; everything else is real (Chroma, SQLite, HTTP, the CLI)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.users import add_user, issue_token
from assistant.web.app import create_app
from core.paths import live_index, state_db
from core.settings import Settings
from core.store import catalog
from core.store import state as state_store
from ingest.embed import HashingEmbedder
from ingest.sources.sync import source_states, sync_sources
from kb_cli.main import main as kb_main
from tests.ingest.helpers import TEST_KB, TEST_KB_IDS, copy_tree
from tests.sources.fake_servicenow import PASSWORD, USERNAME, FakeServiceNow, serve

DAY = date(2026, 11, 25)
SECRET_WORD = "ZQXVAULT"  # only in the HR-restricted article
HR_BODY = (f"<h2>Symptoms</h2><p>The {SECRET_WORD} payroll vault rejects the badge.</p>"
           "<h2>Resolution</h2><ol><li>Open the vault console.</li><li>Re-enrol the badge "
           "with <code>vault enrol --badge</code>.</li></ol>")


@pytest.fixture
def fake() -> FakeServiceNow:
    fake = FakeServiceNow()
    fake.generate(6, kbs=("IT",))
    return fake


@pytest.fixture
def url(fake: FakeServiceNow) -> Iterator[str]:
    with serve(fake) as base:
        yield base


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> Path:
    """A data dir and the environment `kb sync` reads: the source in KB_SOURCES, the
    credentials in the env vars it names, the hashing embedder."""
    for name in ("KB_DATA_DIR", "KB_CALIBRATION_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    monkeypatch.setenv("SN_USER", USERNAME)
    monkeypatch.setenv("SN_PASSWORD", PASSWORD)
    monkeypatch.setenv("KB_SOURCES", json.dumps({"it": {
        "type": "servicenow", "url": url, "username_env": "SN_USER",
        "password_env": "SN_PASSWORD", "knowledge_bases": ["IT"], "page_size": 2}}))
    return tmp_path / "data"


def kb(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = kb_main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if "--json" in argv and out.strip() else out


def articles(data: Path) -> dict[str, Any]:
    with closing(catalog.connect(live_index(data).catalog)) as conn:
        return {a.id: a for a in catalog.iter_articles(conn)}


def states(data: Path) -> dict[str, dict[str, Any]]:
    with closing(catalog.connect(live_index(data).catalog)) as conn:
        return source_states(conn)


def sync(data: Path, **kw: Any) -> Any:
    settings = Settings(data_dir=data, embedder="hashing")
    return sync_sources(settings, HashingEmbedder(), DAY, {"SN_USER": USERNAME,
                                                            "SN_PASSWORD": PASSWORD},
                        sleep=lambda s: None, **kw)


def test_first_then_incremental_sync_picks_up_every_kind_of_change(
        fake: FakeServiceNow, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, first = kb(capsys, "sync", "--json", "--data-dir", str(env), "--as-of", "2026-11-25")
    assert code == 0
    [it] = first["sources"]
    assert (it["source"], it["listed"], it["fetched"], it["full"], it["error"]) == (
        "it", 6, 6, True, None)
    numbers = sorted(a["number"] for a in fake.articles)
    assert set(articles(env)) == {f"it:{n}" for n in numbers}
    watermark = it["watermark"]
    assert watermark and states(env)["it"]["watermark"] == watermark

    edited, retired, deleted, restricted = numbers[0], numbers[1], numbers[2], numbers[3]
    fake.edit(edited, short_description="VPN client fails after the update",
              text="<p>Reinstall the VPN client.</p><h2>Resolution</h2><p>Run setup.</p>")
    fake.retire(retired)
    fake.delete(deleted)
    fake.set_criteria(restricted, can_read=("HR staff",))
    new = fake.add_article("Payroll vault badge", HR_BODY, kb="IT")
    before = len(fake.requests)
    code, second = kb(capsys, "sync", "--json", "--data-dir", str(env), "--as-of",
                      "2026-11-25")
    assert code == 0
    [it] = second["sources"]
    # edit, retire, permission, new (and the record at the watermark: changes are asked for
    # from it inclusive, so none made in its second is missed)
    assert not it["full"] and it["written"] == 4 and it["fetched"] in (4, 5)
    assert it["removed"] == 1 and it["watermark"] > watermark
    fetched = [p for path, p in fake.requests[before:] if path.endswith("/kb_knowledge")
               and "sys_updated_on>=" in p.get("sysparm_query", "")]
    assert fetched, "the incremental sync asks for changes since the watermark"
    report = second["ingest"]
    assert (report["added"], report["updated"], report["removed"]) == (1, 3, 1)
    now = articles(env)
    assert f"it:{deleted}" not in now and f"it:{new}" in now
    assert now[f"it:{edited}"].title == "VPN client fails after the update"
    assert now[f"it:{retired}"].status == "retired"
    assert now[f"it:{restricted}"].groups == ("HR staff",)


def test_a_sync_failing_half_way_removes_nothing_keeps_the_watermark_and_resumes(
        fake: FakeServiceNow, env: Path) -> None:
    assert not sync(env).failed
    watermark = states(env)["it"]["watermark"]
    numbers = sorted(a["number"] for a in fake.articles)
    fake.delete(numbers[0])
    for n in numbers[1:4]:
        fake.edit(n, text=f"<p>Edited {n}: restart the client, then sign in again.</p>")
    fake.fail_after_pages(1)
    run = sync(env)
    assert run.failed and "failed after" in (run.sources[0].error or "")
    assert PASSWORD not in run.sources[0].error and USERNAME not in run.sources[0].error
    assert f"it:{numbers[0]}" in articles(env), "nothing is removed by a failed sync"
    state = states(env)["it"]
    assert state["watermark"] == watermark and state["error"]
    assert state["last_success"] is not None

    fake.fail_after_pages(None)
    run = sync(env)
    assert not run.failed
    now = articles(env)
    assert f"it:{numbers[0]}" not in now
    assert all("Edited" in now[f"it:{n}"].text for n in numbers[1:4])
    assert states(env)["it"]["error"] is None and states(env)["it"]["watermark"] > watermark


def test_a_lost_mirror_is_fetched_again_in_full(fake: FakeServiceNow, env: Path) -> None:
    sync(env)
    for page in (env / "sources" / "it" / "records").glob("*.html"):
        page.unlink()
        break
    run = sync(env)
    assert run.sources[0].full and run.sources[0].written == 1
    assert len(articles(env)) == 6


def test_a_restricted_record_is_invisible_to_other_groups_in_kb_ask_and_the_web_app(
        fake: FakeServiceNow, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    number = fake.add_article("Payroll vault badge rejected", HR_BODY, kb="IT",
                              can_read=("HR staff",))
    sync(env)
    hidden = f"it:{number}"
    question = f"{SECRET_WORD} payroll vault rejects my badge"

    def cited(*groups: str) -> set[str]:
        code, answer = kb(capsys, "ask", question, "--json", "--data-dir", str(env),
                          "--groups", ",".join(groups), "--as-of", "2026-11-25")
        assert code == 0
        return ({c["article_id"] for c in answer["citations"]}
                | {r["article_id"] for r in answer["related"]})

    assert hidden in cited("HR staff")
    assert hidden not in cited() and hidden not in cited("finance")

    settings = Settings(data_dir=env, embedder="hashing", secret_key="test-secret",
                        sources={"it": {"type": "servicenow", "url": "https://sn.example"}})
    with closing(state_store.connect(state_db(env))) as conn:
        add_user(conn, "agent", "agent", frozenset(), "correct-horse-battery")
        add_user(conn, "hr", "agent", frozenset({"HR staff"}), "correct-horse-battery")
        add_user(conn, "admin", "admin", frozenset(), "correct-horse-battery")
        tokens = {n: issue_token(conn, n) for n in ("agent", "hr", "admin")}
    with TestClient(create_app(settings, HashingEmbedder())) as client:
        def ask(who: str) -> str:
            response = client.post("/api/ask", json={"question": question},
                                   headers={"Authorization": f"Bearer {tokens[who]}"})
            assert response.status_code == 200
            return response.text

        assert hidden in ask("hr") and "vault enrol --badge" in ask("hr")
        assert hidden not in ask("agent") and "vault enrol" not in ask("agent")
        page = client.get(f"/api/articles/{hidden}",
                          headers={"Authorization": f"Bearer {tokens['agent']}"})
        assert page.status_code == 404
        sources = client.get("/api/sources",
                             headers={"Authorization": f"Bearer {tokens['admin']}"}).json()
        assert [(s["name"], s["type"], s["records"], s["error"]) for s in sources] == [
            ("it", "servicenow", 7, None)]
        assert "sn.example" in sources[0]["url"] and PASSWORD not in json.dumps(sources)
        assert client.get("/api/sources", headers={
            "Authorization": f"Bearer {tokens['agent']}"}).status_code == 403


def test_sync_keeps_the_folder_an_index_was_built_from(
        fake: FakeServiceNow, env: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_tree(TEST_KB, tmp_path / "kb")
    assert kb(capsys, "ingest", str(folder), "--data-dir", str(env), "--json")[0] == 0
    sync(env)
    ids = set(articles(env))
    assert set(TEST_KB_IDS) <= ids and len(ids) == len(TEST_KB_IDS) + 6
    # and a later folder ingest keeps the synced records
    assert kb(capsys, "ingest", str(folder), "--data-dir", str(env), "--json")[0] == 0
    assert set(articles(env)) == ids


def test_an_unknown_source_name_and_missing_credentials_are_clear_errors(
        env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert kb_main(["sync", "nope", "--data-dir", str(env)]) != 0
    assert "no source named nope" in capsys.readouterr().err
    monkeypatch.delenv("SN_PASSWORD")
    code, out = kb(capsys, "sync", "--json", "--data-dir", str(env))
    assert code == 1
    assert "SN_PASSWORD is not set" in out["sources"][0]["error"]
    assert out["ingest"] is None  # nothing to read: the only source never synced
    assert "SN_PASSWORD is not set" in states(env)["it"]["error"]


def test_the_backup_carries_the_mirror_so_the_next_sync_stays_incremental(
        fake: FakeServiceNow, env: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    sync(env)
    assert kb_main(["backup", str(tmp_path / "bk"), "--data-dir", str(env)]) == 0
    restored = tmp_path / "restored"
    assert kb_main(["restore", str(tmp_path / "bk"), "--data-dir", str(restored)]) == 0
    run = sync(restored)
    assert not run.sources[0].full and run.sources[0].written == 0
    assert len(articles(restored)) == 6


def test_kb_import_mirrors_an_export_and_a_later_export_replaces_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    monkeypatch.delenv("KB_SOURCES", raising=False)
    export = Path(__file__).parent.parent / "data" / "sources" / "servicenow" / "kb_knowledge.xml"
    data = str(tmp_path / "data")
    code, first = kb(capsys, "import", "servicenow", str(export), "--source", "it", "--json",
                     "--data-dir", data, "--as-of", "2026-11-25")
    assert code == 0
    ids = set(articles(tmp_path / "data"))
    assert "it:KB0010001" in ids and "it:KB0010002" in ids and "it:KB0010006" not in ids
    code, again = kb(capsys, "import", "servicenow", str(export), "--source", "it", "--json",
                     "--data-dir", data, "--as-of", "2026-11-25")
    assert (again["sources"][0]["written"], again["ingest"]["updated"],
            again["ingest"]["added"]) == (0, 0, 0)
    fewer = tmp_path / "fewer.xml"
    fewer.write_text(re.sub(r"<kb_knowledge action=\"INSERT_OR_UPDATE\">(?:(?!</kb_knowledge>)"
                            r".)*<number>KB0010002</number>.*?</kb_knowledge>", "",
                            export.read_text(), flags=re.S))
    code, third = kb(capsys, "import", "servicenow", str(fewer), "--source", "it", "--json",
                     "--data-dir", data, "--as-of", "2026-11-25")
    assert third["ingest"]["removed"] == 1 and set(articles(tmp_path / "data")) == ids - {
        "it:KB0010002"}
    assert kb_main(["import", "zendesk", str(export), "--source", "it",
                    "--data-dir", data]) != 0
