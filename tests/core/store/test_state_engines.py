"""The state store on both engines: one migration list makes the same schema in SQLite and in
Postgres, and every module that owns state reads back what it wrote, identically."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from assistant import gaps, metrics, review_actions, usage, users
from assistant.types import Answer, Citation
from core.store import db
from core.store import state as state_store
from core.store.db import Connection
from core.store.flag_states import (
    change_state,
    history,
    load_states,
    mark_reviewed,
    reconcile,
    reviewed_overrides,
)
from core.types import Article, Flag
from tests.postgres import new_schema
from tickets import store as tickets

VPN = "network/vpn-drops.md"
PRINTER = "printing/spooler.md"


@pytest.fixture(params=["sqlite", "postgres"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Connection]:
    """A new state DB: ``tmp_path/state.sqlite``, or a new Postgres schema brought up to date
    by ``kb db upgrade``'s function."""
    url = new_schema(request.getfixturevalue("postgres_url")) \
        if request.param == "postgres" else None
    if url:
        assert state_store.upgrade(tmp_path / "state.sqlite", url) == (
            0, len(state_store.MIGRATIONS))
    with closing(state_store.connect(tmp_path / "state.sqlite", url)) as conn:
        assert db.engine(conn) == request.param
        yield conn


def columns(conn: Connection) -> dict[str, list[tuple[str, str, bool]]]:
    """Table -> (column, kind of type, part of the primary key), in order."""
    kinds = {"TEXT": "text", "INTEGER": "integer", "BIGINT": "integer", "REAL": "float",
             "DOUBLE PRECISION": "float"}
    out: dict[str, list[tuple[str, str, bool]]] = {}
    for table in sorted(db.table_names(conn) - {"kb_schema"}):
        if db.engine(conn) == "sqlite":
            rows = [(r["name"], r["type"], bool(r["pk"])) for r in
                    conn.execute(f"PRAGMA table_info({table})")]
        else:
            keys = {r[0] for r in conn.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = ?::regclass "
                "AND i.indisprimary", (table,))}
            rows = [(r[0], r[1].upper(), r[0] in keys) for r in conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE "
                "table_name = ? AND table_schema = current_schema() ORDER BY ordinal_position",
                (table,))]
        out[table] = [(name, kinds[kind], pk) for name, kind, pk in rows]
    return out


@pytest.fixture(scope="module")
def sqlite_columns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("schema") / "state.sqlite"
    with closing(state_store.connect(path, None)) as conn:
        return columns(conn)


def test_every_migration_makes_the_same_tables_on_both_engines(
        state: Connection, sqlite_columns: dict[str, Any]) -> None:
    assert columns(state) == sqlite_columns
    assert sqlite_columns["feedback"][0] == ("id", "integer", True)
    assert ("confidence", "float", False) in sqlite_columns["answers"]
    assert {"users", "sessions", "api_tokens", "answers", "feedback", "reports", "gaps",
            "flag_states", "flag_events", "reviewed_on", "owner_assignments", "owner_events",
            "tickets", "coverage_runs", "ticket_coverage"} <= set(sqlite_columns)


def test_users_sessions_and_tokens(state: Connection) -> None:
    users.add_user(state, "olga", "owner", frozenset({"network"}), "olga-password")
    users.add_user(state, "alice", "agent", frozenset(), "alice-password")
    token = users.issue_token(state, "olga")
    session = users.start_session(state, "alice")
    assert users.authenticate(state, "olga", "olga-password") == users.User(
        "olga", "owner", frozenset({"network"}))
    assert users.user_for_token(state, token).name == "olga"
    assert users.user_for_session(state, session).name == "alice"
    assert [(u.name, n) for u, n in users.list_users(state)] == [("alice", 0), ("olga", 1)]
    assert users.set_password(state, "alice", "new-password") == 1  # her session ended
    assert users.user_for_session(state, session) is None
    assert users.revoke_tokens(state, "olga") == 1
    users.remove_user(state, "olga")
    assert users.get_user(state, "olga") is None


def _citation(article_id: str, n: int) -> Citation:
    return Citation(n, article_id, article_id, "Resolution", f"/articles/{article_id}", None,
                    n == 2, "snippet")


def test_answers_feedback_reports_gaps_and_metrics(state: Connection) -> None:
    answer = Answer("vpn drops", True, "text [1]", 0.8125,
                    (_citation(VPN, 1), _citation(PRINTER, 2)))
    first = usage.get_answer(state, usage.log_answer(state, answer, "agent", 120.5))
    second = usage.log_answer(state, Answer("printer", False, "", 0.25, ()), None, 80.0)
    assert first is not None and first.confidence == 0.8125 and first.cited == (VPN, PRINTER)
    usage.record_feedback(state, first.id, False, "did not work", "agent")
    usage.record_feedback(state, second, True, None, None)
    usage.record_report(state, first, VPN, "outdated", "SSTP is gone", "agent")
    assert usage.article_signals(state)[VPN] == usage.ArticleSignals(1, 0, 1, 1, 1)
    assert usage.reports_for(state, VPN)[0]["comment"] == "SSTP is gone"
    gaps.record_gap(state, "how do I fix the printer", "not_covered", "agent", 0.25, ["HR"])
    listed = gaps.list_gaps(state)
    assert [(g.count, g.reasons) for g in listed] == [
        (1, {"not_covered": 1}), (1, {"not_helpful": 1})]
    days = metrics.per_day(state, date.today(), 2)
    assert days[-1] == {"day": date.today().isoformat(), "questions": 2, "answered": 1,
                        "not_covered": 1}
    assert all(type(d[k]) is int for d in days for k in ("questions", "answered"))


def _flag(article_id: str, kind: str, key: str = "") -> Flag:
    return Flag(article_id, kind, "medium", f"{kind} on {article_id}", {"key": key, "n": 1})


def test_flag_states_reviews_and_owner_reassignments(state: Connection) -> None:
    stale, dup = _flag(VPN, "stale"), _flag(VPN, "duplicate", PRINTER)
    summary = reconcile(state, [stale, dup], {VPN: "h1"}, at="2026-11-01T00:00:00+00:00")
    assert (summary.opened, summary.fixed) == (2, 0)
    change_state(state, [dup], "dismissed", "olga", "not a duplicate", "h1")
    summary = reconcile(state, [stale], {VPN: "h1"}, at="2026-11-02T00:00:00+00:00")
    assert (summary.opened, summary.reopened, summary.fixed) == (0, 0, 0)
    states = {k[1]: (s.state, s.note) for k, s in load_states(state, VPN).items()}
    assert states == {"stale": ("open", "detected"), "duplicate": ("dismissed",
                                                                   "not a duplicate")}
    assert [(e["to_state"], e["by"]) for e in history(state, VPN)] == [
        ("open", "kb"), ("open", "kb"), ("dismissed", "olga")]
    mark_reviewed(state, VPN, date(2026, 11, 3), "olga", "h1")
    mark_reviewed(state, VPN, date(2026, 11, 4), "olga", "h2")  # the second one wins
    assert reviewed_overrides(state) == {VPN: date(2026, 11, 4)}
    article = Article(VPN, VPN, "VPN drops", (), "h1", owner="net-team")
    review_actions._reassign(state, article, "olga", "lead")
    review_actions._reassign(state, article, "bob", "lead")
    assert [tuple(r) for r in state.execute("SELECT owner, by FROM owner_assignments")] == [
        ("bob", "lead")]
    assert [tuple(r) for r in state.execute(
        "SELECT from_owner, to_owner FROM owner_events ORDER BY id")] == [
        ("net-team", "olga"), ("net-team", "bob")]


def test_tickets_and_coverage_runs(state: Connection) -> None:
    one = tickets.Ticket("INC1", "vpn drops", "it drops", labels=("vpn",), groups=("HR",))
    two = tickets.Ticket("INC2", "printer jams", opened_at="2026-11-02")
    assert tickets.save_tickets(state, [one, two]) == tickets.SaveCounts(2, 0, 0)
    changed = tickets.Ticket("INC2", "printer jams again", opened_at="2026-11-02")
    assert tickets.save_tickets(state, [one, changed]) == tickets.SaveCounts(0, 1, 1)
    assert [t.subject for t in tickets.iter_tickets(state)] == ["vpn drops",
                                                               "printer jams again"]
    assert list(tickets.iter_tickets(state))[0].groups == ("hr",)
    outcome = tickets.Outcome("INC1", True, 0.75, VPN, 3)
    first = tickets.save_run(state, {"covered": 1}, [outcome])
    second = tickets.save_run(state, {"covered": 0}, [outcome, outcome])
    assert second == first + 1
    assert tickets.last_run(state) == {"covered": 0, "run_id": second}
    assert tickets.outcomes(state) == {"INC1": tickets.Outcome("INC1", True, 0.75, VPN, 3)}


def test_a_failed_transaction_leaves_nothing(state: Connection) -> None:
    with pytest.raises(RuntimeError), state:
        state.execute("INSERT INTO gaps (question, reason, asked_at) VALUES (?, ?, ?)",
                      ("q", "not_covered", "2026-11-01"))
        raise RuntimeError("boom")
    assert state.execute("SELECT count(*) FROM gaps").fetchone()[0] == 0
    row = state.execute("SELECT ? AS a, '50%' AS b, ? AS c", ("x?", 3)).fetchone()
    assert (row["a"], row["b"], row[2], json.loads(json.dumps(dict(row)))) == (
        "x?", "50%", 3, {"a": "x?", "b": "50%", "c": 3})
