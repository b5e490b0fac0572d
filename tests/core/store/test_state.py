"""The state store: one migration list, applied on open; kb 0.1.0's databases upgrade in place."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from assistant import gaps, usage, users
from core.store import state as state_store
from core.store.flag_states import history, load_states, reviewed_overrides

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "state" / "state-0.1.0.sqlite"
ROWS = {"users": 3, "api_tokens": 1, "sessions": 1, "answers": 2, "feedback": 2, "reports": 1,
        "gaps": 2, "flag_states": 4, "flag_events": 6, "reviewed_on": 1,
        "owner_assignments": 1, "owner_events": 1, "tickets": 0, "coverage_runs": 0,
        "ticket_coverage": 0, "login_attempts": 0}
TOKEN = "kb_7DWlhnFnrb8Ukt8LpvtoKRY_xap0LOQ4R_wtDUtcZEE"
SESSION = "jFa96hgjzmlrwdHNWz7m23GcpyweXOgr6_D2ZGYmdGo"


def tables(conn: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                        "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {n: conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}


def schema(conn: sqlite3.Connection) -> set[str]:
    return {" ".join(r[0].split()) for r in conn.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")}


@pytest.fixture
def upgraded(tmp_path: Path) -> sqlite3.Connection:
    path = tmp_path / "state.sqlite"
    shutil.copy(FIXTURE, path)
    return state_store.connect(path)


def test_a_0_1_0_database_upgrades_with_every_row_kept(upgraded: sqlite3.Connection) -> None:
    assert tables(upgraded) == ROWS  # the empty catalog tables it carried are gone
    assert upgraded.execute("PRAGMA user_version").fetchone()[0] == len(state_store.MIGRATIONS)
    assert upgraded.execute("PRAGMA application_id").fetchone()[0] == state_store.APP_ID


def test_upgraded_users_tokens_sessions_and_reviews_still_work(
        upgraded: sqlite3.Connection) -> None:
    assert users.authenticate(upgraded, "alice", "alice-password-1") == users.User(
        "alice", "agent", frozenset())
    assert users.authenticate(upgraded, "alice", "wrong-password") is None
    assert users.user_for_token(upgraded, TOKEN).name == "alice"
    assert users.user_for_session(upgraded, SESSION) == users.User(
        "olga", "owner", frozenset({"network"}))
    states = {k[1]: s.state for k, s in load_states(upgraded).items()}
    assert states == {"stale": "open", "duplicate": "dismissed", "metadata": "acknowledged",
                      "reported": "open"}
    assert reviewed_overrides(upgraded) == {"printing/spooler.md": date(2026, 11, 21)}
    assert [e["to_state"] for e in history(upgraded, "printing/spooler.md")] == [
        "open", "dismissed"]
    assert usage.article_signals(upgraded)["network/vpn-cannot-connect.md"] == \
        usage.ArticleSignals(cited=1, helpful=1, not_helpful=1, reports=1, negative=1)
    assert {(g.topic, tuple(g.reasons.items())) for g in gaps.list_gaps(upgraded)} == {
        ("how to fly", (("not_covered", 1),)), ("vpn error 809", (("not_helpful", 1),))}


def test_upgrade_gives_the_schema_a_new_database_has(tmp_path: Path,
                                                     upgraded: sqlite3.Connection) -> None:
    fresh = state_store.connect(tmp_path / "fresh.sqlite")
    assert schema(fresh) == schema(upgraded)
    assert tables(fresh) == dict.fromkeys(ROWS, 0)


def test_opening_again_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    shutil.copy(FIXTURE, path)
    state_store.connect(path).close()
    conn = state_store.connect(path)
    assert tables(conn) == ROWS


def test_a_catalog_leftover_with_rows_is_kept(tmp_path: Path) -> None:
    """Never drop data: a leftover table that somehow holds rows stays."""
    path = tmp_path / "state.sqlite"
    shutil.copy(FIXTURE, path)
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO kv VALUES ('note', 'keep me')")
    raw.commit()
    raw.close()
    conn = state_store.connect(path)
    assert [tuple(r) for r in conn.execute("SELECT value FROM kv")] == [("keep me",)]


def test_requests_run_no_ddl(tmp_path: Path) -> None:
    """Schema work happens when the store opens, never on a request path: with DDL denied,
    sign-in, sessions, answers, feedback and gaps all still work."""
    conn = state_store.connect(tmp_path / "state.sqlite")
    ddl = {sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_DROP_TABLE,
           sqlite3.SQLITE_ALTER_TABLE}
    conn.set_authorizer(lambda action, *_: sqlite3.SQLITE_DENY if action in ddl
                        else sqlite3.SQLITE_OK)
    users.add_user(conn, "bo", "agent", frozenset(), "bo-password-1")
    assert users.authenticate(conn, "bo", "bo-password-1") is not None
    assert users.user_for_session(conn, users.start_session(conn, "bo")).name == "bo"
    gaps.record_gap(conn, "how do I fly", "not_covered", "bo", 0.1)
    assert [g.count for g in gaps.list_gaps(conn)] == [1]
