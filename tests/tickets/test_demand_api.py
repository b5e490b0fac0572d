"""``GET /api/demand``: the gaps page's roles, and only what the viewer may see: articles by
``core.visibility`` with ``users.reader``, example tickets by their requesters' groups (the
leak KB of tests/assistant/test_flag_leaks.py: restricted articles carry markers in their
titles). TestClient and the HashingEmbedder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.service import assistant_from_settings
from core.paths import state_db
from core.settings import Settings
from core.store import state as state_store
from ingest.embed import HashingEmbedder
from tests.assistant.test_flag_leaks import FIN, HR, LEAK_USERS, MARKERS, build_leak_kb
from tests.assistant.web.fast_app import FastKb, fast_app
from tickets.coverage import run_coverage
from tickets.store import Ticket, save_run, save_tickets

VPN = "Install the VPN client on the company laptop and press Connect"
LEAVER = "Revoke the leaver's badge and stop the salary payments"
TICKETS = [
    Ticket("PUB-1", VPN), Ticket("FIN-1", VPN, groups=("finance",)),
    Ticket("HR-1", LEAVER, groups=("hr",)), Ticket("HR-2", LEAVER + " today", groups=("hr",)),
    Ticket("FIN-2", "Salary payments export to the bank for the payroll run",
           groups=("finance",)),
    Ticket("PUB-2", "canteen menu fridays lunch"), Ticket("PUB-3", "canteen menu lunch today"),
]
#: who may open the article a marker names (as in test_permission_matrix.SEES)
SEES = {FIN: {"fin-agent", "fin-owner", "fin-lead", "admin"},
        HR: {"hr-agent", "hr-owner", "admin"}}
#: whose example tickets a reader sees: requesters sharing a group, or without groups
TICKETS_SEEN = {"owner": {"PUB-1", "PUB-2", "PUB-3"},
                "fin-owner": {"PUB-1", "PUB-2", "PUB-3", "FIN-1", "FIN-2"},
                "hr-owner": {"PUB-1", "PUB-2", "PUB-3", "HR-1", "HR-2"},
                "admin": {t.id for t in TICKETS}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, FastKb]]:
    kb = build_leak_kb(tmp_path_factory.mktemp("demand"))
    assistant = assistant_from_settings(Settings(data_dir=kb.data_dir, embedder="hashing"),
                                        HashingEmbedder())
    summary, outcomes = run_coverage(assistant, TICKETS, date.today(), distance=1.0)
    assistant.state.close()
    with closing(state_store.connect(state_db(kb.data_dir))) as conn:
        save_tickets(conn, TICKETS)
        save_run(conn, summary, outcomes)
    with TestClient(fast_app(kb.data_dir), follow_redirects=False) as client:
        yield client, kb


def demand(served: tuple[TestClient, FastKb], who: str | None) -> Any:
    client, kb = served
    return client.get("/api/demand", headers=kb.auth(who))


def ticket_ids(run: dict[str, Any]) -> set[str]:
    return {e["id"] for group in ("top_articles", "clusters") for item in run[group]
            for e in item["examples"]}


def test_roles(served: tuple[TestClient, FastKb]) -> None:
    assert demand(served, None).status_code == 401
    for who, (role, _) in LEAK_USERS.items():
        assert demand(served, who).status_code == (200 if role in ("owner", "admin") else 403)


def test_the_run_as_admin_holds_every_marker_and_ticket(
        served: tuple[TestClient, FastKb]) -> None:
    run = demand(served, "admin").json()["run"]
    assert run["tickets"] == len(TICKETS)
    assert {FIN, HR} <= {m for m in MARKERS if m in str(run)}  # else the test below is empty
    assert ticket_ids(run) == TICKETS_SEEN["admin"]


@pytest.mark.parametrize("who", ["owner", "fin-owner", "hr-owner", "admin"])
def test_only_what_the_viewer_may_see(served: tuple[TestClient, FastKb], who: str) -> None:
    run = demand(served, who).json()["run"]
    text = str(run)
    assert {m for m in (FIN, HR) if m in text} == {m for m in (FIN, HR) if who in SEES[m]}
    assert ticket_ids(run) == TICKETS_SEEN[who]
    # the counts stay whole: the share of demand is the service desk's, not the viewer's
    assert run["tickets"] == len(TICKETS)


def test_before_any_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    kb = build_leak_kb(tmp_path_factory.mktemp("demand-empty"))
    with TestClient(fast_app(kb.data_dir)) as client:
        assert client.get("/api/demand", headers=kb.auth("owner")).json() == {"run": None}
