"""One review service: the same action on the same flag gives the same result from ``kb
review`` and from ``POST /api/flags/{id}/actions`` (a state DB copied, one run each way)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant import review_queue, usage
from assistant.types import Answer, Citation
from core.paths import live_index, state_db
from core.store import catalog
from core.store import state as state_store
from core.store.flag_states import load_states, reviewed_overrides
from kb_cli.main import main as kb
from tests.assistant.web.fast_app import FastKb, add_users, build_data_dir, fast_app

BY = "owner"  # the web user of that name acts; the CLI says --by owner
#: (action, CLI options, web body); the steps run in this order on both copies
STEPS: list[tuple[str, list[str], dict[str, Any]]] = [
    ("stale", ["--reviewed"], {"action": "reviewed"}),
    ("stale", ["--dismiss", "no longer stale", "--flag", "stale"],  # fixed now: refused
     {"action": "dismiss", "reason": "no longer stale"}),
    ("reported", ["--reopen", "--flag", "reported"], {"action": "reopen"}),  # already open
    ("reported", ["--ack", "--flag", "reported"], {"action": "acknowledge"}),
    ("reported", ["--resolve", "steps rewritten for the new client", "--flag", "reported"],
     {"action": "resolve", "reason": "steps rewritten for the new client"}),
    ("reported", ["--reopen", "--flag", "reported"], {"action": "reopen"}),
    ("reported", ["--reassign", "kim@northwind.example"],
     {"action": "reassign", "owner": "kim@northwind.example"}),
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """kb_samples with an agent's "outdated" report on a stale article; returns the data dir
    and that article's id."""
    data_dir = build_data_dir(tmp_path_factory.mktemp("review-actions"))
    with TestClient(fast_app(data_dir)) as client:
        kb_ = add_users(data_dir)
        stale = client.get("/api/flags", params={"kind": "stale"},
                           headers=kb_.auth("admin")).json()["items"]
    article_id = next(f["article_id"] for f in stale if not f["article_id"].startswith("hr/"))
    state = state_store.connect(state_db(data_dir))
    cite = Citation(1, article_id, "t", "Resolution", "/articles/x", None, True, "s")
    answer_id = usage.log_answer(state, Answer("q", True, "a [1]", 0.9, (cite,)), "agent")
    usage.record_report(state, usage.get_answer(state, answer_id), article_id, "outdated",
                        "old client", "agent")
    article = catalog.get_article(catalog.connect(live_index(data_dir).catalog), article_id)
    assert article is not None
    # what POST /api/feedback does after recording the report
    review_queue.open_report_flag(state, article, "outdated", "agent", "old client")
    state.close()
    return data_dir, article_id


def snapshot(data_dir: Path, article_id: str) -> dict[str, Any]:
    state = state_store.connect(state_db(data_dir))
    try:
        return {"states": {k: (s.state, s.note, s.changed_by)
                           for k, s in load_states(state, article_id).items()},
                "reviewed": reviewed_overrides(state).get(article_id),
                "owner": review_queue.owner_overrides(state).get(article_id),
                "history": [(e["kind"], e["from_state"], e["to_state"], e["by"], e["note"])
                            for e in review_queue.article_history(state, article_id)]}
    finally:
        state.close()


def run_cli(data_dir: Path, article_id: str, options: list[str],
            capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = kb(["review", article_id, *options, "--by", BY, "--data-dir", str(data_dir)])
    out = capsys.readouterr()
    return (200 if code == 0 else 422), (out.out if code == 0 else out.err).strip()


@pytest.fixture
def web(seeded: tuple[Path, str], tmp_path: Path) -> Iterator[tuple[TestClient, FastKb, Path]]:
    data_dir = tmp_path / "web"
    shutil.copytree(seeded[0], data_dir)
    with TestClient(fast_app(data_dir)) as client:
        yield client, FastKb(data_dir, {}), data_dir


def flag_of(client: TestClient, headers: dict, article_id: str, kind: str) -> str:
    items = client.get("/api/flags", params={"state": ""}, headers=headers).json()["items"]
    return next(f["id"] for f in items if f["article_id"] == article_id and f["kind"] == kind)


def test_cli_and_web_give_the_same_result_step_by_step(
        seeded: tuple[Path, str], tmp_path: Path, web: tuple[TestClient, FastKb, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    seed_dir, article_id = seeded
    cli_dir = tmp_path / "cli"
    shutil.copytree(seed_dir, cli_dir)
    client, _, web_dir = web
    with state_store.connect(state_db(web_dir)) as conn:
        from assistant.users import issue_token

        headers = {"Authorization": f"Bearer {issue_token(conn, BY)}"}
    for kind, options, body in STEPS:
        cli_status, cli_text = run_cli(cli_dir, article_id, options, capsys)
        response = client.post(f"/api/flags/{flag_of(client, headers, article_id, kind)}/"
                               "actions", json=body, headers=headers)
        web_text = response.json()["message" if response.status_code == 200 else "detail"]
        assert (response.status_code, web_text) == (cli_status, cli_text.removeprefix(
            "kb review: ")), options
        cli_after, web_after = snapshot(cli_dir, article_id), snapshot(web_dir, article_id)
        assert cli_after == web_after, options


def test_marking_reviewed_leaves_an_agents_report_open_and_says_so(
        seeded: tuple[Path, str], web: tuple[TestClient, FastKb, Path]) -> None:
    client, _, data_dir = web
    _, article_id = seeded
    with state_store.connect(state_db(data_dir)) as conn:
        from assistant.users import issue_token

        headers = {"Authorization": f"Bearer {issue_token(conn, BY)}"}
    stale = flag_of(client, headers, article_id, "stale")
    key = next(k[2] for k in load_states(state_store.connect(state_db(data_dir)), article_id)
               if k[1] == "stale")
    done = client.post(f"/api/flags/{stale}/actions", json={"action": "reviewed"},
                       headers=headers).json()
    assert done["state"] == "fixed"
    assert done["changes"] == [{"kind": "stale", "key": key, "from_state": "open",
                                "to_state": "fixed"}]
    assert "agents' outdated report stays open: resolve it with a note" in done["message"]
    assert done["message"].startswith(f"{article_id}: marked reviewed on "
                                      f"{date.today().isoformat()} by owner; stale")
    states = {k[1]: s.state for k, s in load_states(
        state_store.connect(state_db(data_dir)), article_id).items()}
    assert states["reported"] == "open" and states["stale"] == "fixed"
    no_note = client.post(f"/api/flags/{flag_of(client, headers, article_id, 'reported')}/"
                          "actions", json={"action": "resolve"}, headers=headers)
    assert no_note.status_code == 422 and "resolve needs a note" in no_note.json()["detail"]


@pytest.mark.parametrize(("article_id", "kind"), [
    ("endpoint/ie11-enterprise-mode.md", "obsolete"),
    ("printing/add-network-printer.md", "partly-obsolete")])
def test_lifecycle_flags_close_only_when_the_owner_confirms_the_products(
        tmp_path: Path, article_id: str, kind: str) -> None:
    data_dir = build_data_dir(tmp_path)
    kb_ = add_users(data_dir)
    with TestClient(fast_app(data_dir)) as client:
        admin = kb_.auth("admin")
        flags = client.get("/api/flags", params={"kind": kind}, headers=admin).json()["items"]
        flag = next(f for f in flags if f["article_id"] == article_id)
        done = client.post(f"/api/flags/{flag['id']}/actions", json={"action": "reviewed"},
                           headers=admin).json()
        assert f"{kind} stays open: confirm the products" in done["message"]
        assert kind not in {c["kind"] for c in done["changes"]}
        done = client.post(f"/api/flags/{flag['id']}/actions",
                           json={"action": "reviewed", "confirm_products": True},
                           headers=admin).json()
        assert {(c["kind"], c["to_state"]) for c in done["changes"]} >= {(kind, "dismissed")}
