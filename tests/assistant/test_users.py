"""Users, passwords, sessions, API tokens and what each role may see."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from assistant import users
from core.errors import KbError
from core.store import state as state_store


@pytest.fixture
def state(tmp_path: Path) -> sqlite3.Connection:
    return state_store.connect(tmp_path / "state.sqlite")


def test_add_and_authenticate(state: sqlite3.Connection) -> None:
    users.add_user(state, "ana", "owner", frozenset({"hr"}), "s3cret-pass")
    assert users.authenticate(state, "ana", "s3cret-pass") == users.User(
        "ana", "owner", frozenset({"hr"}))
    assert users.authenticate(state, "ana", "wrong-pass") is None
    assert users.authenticate(state, "nobody", "s3cret-pass") is None
    stored = state.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2") and "s3cret-pass" not in stored


@pytest.mark.parametrize(("name", "role", "password", "message"), [
    ("ana", "king", "s3cret-pass", "role 'king'"), ("", "agent", "s3cret-pass", "user name"),
    ("a b", "agent", "s3cret-pass", "no spaces"), ("ana", "agent", "short", "8 characters")])
def test_add_user_says_what_is_wrong(state: sqlite3.Connection, name: str, role: str,
                                     password: str, message: str) -> None:
    with pytest.raises(KbError, match=message):
        users.add_user(state, name, role, frozenset(), password)


def test_duplicate_user_is_refused(state: sqlite3.Connection) -> None:
    users.add_user(state, "ana", "agent", frozenset(), "s3cret-pass")
    with pytest.raises(KbError, match="already exists"):
        users.add_user(state, "ana", "admin", frozenset(), "s3cret-pass")


def test_tokens_are_stored_hashed_and_revocable(state: sqlite3.Connection) -> None:
    users.add_user(state, "ana", "agent", frozenset(), "s3cret-pass")
    token = users.issue_token(state, "ana")
    assert token.startswith("kb_") and len(token) > 40
    assert users.user_for_token(state, token).name == "ana"
    assert token not in str(state.execute("SELECT * FROM api_tokens").fetchall())
    session = users.start_session(state, "ana")
    assert users.revoke_tokens(state, "ana") == 1
    assert users.user_for_token(state, token) is None
    assert users.user_for_session(state, session) is None


def test_sessions_end_and_expire(state: sqlite3.Connection) -> None:
    users.add_user(state, "ana", "agent", frozenset(), "s3cret-pass")
    live = users.start_session(state, "ana")
    assert users.user_for_session(state, live).name == "ana"
    users.end_session(state, live)
    assert users.user_for_session(state, live) is None
    expired = users.start_session(state, "ana", hours=-1)
    assert users.user_for_session(state, expired) is None


def test_remove_user_removes_their_tokens(state: sqlite3.Connection) -> None:
    users.add_user(state, "ana", "agent", frozenset(), "s3cret-pass")
    token = users.issue_token(state, "ana")
    users.remove_user(state, "ana")
    assert users.user_for_token(state, token) is None
    with pytest.raises(KbError, match="no user"):
        users.remove_user(state, "ana")


def test_demo_users_are_created_once(state: sqlite3.Connection) -> None:
    created = users.ensure_demo_users(state, frozenset({"hr"}))
    assert [(n, r) for n, r, _ in created] == list(users.DEMO_USERS)
    for name, _, password in created:
        assert users.authenticate(state, name, password) is not None
    assert users.get_user(state, "demo-owner").groups == frozenset({"hr"})
    assert users.get_user(state, "demo-agent").groups == frozenset()
    assert users.ensure_demo_users(state) == []


@pytest.mark.parametrize(("role", "permissions"), [
    ("agent", {"ask"}), ("owner", {"ask", "review", "gaps"}), ("lead", {"ask", "metrics"}),
    ("admin", {"ask", "review", "gaps", "metrics", "sources"})])
def test_permissions_by_role(role: str, permissions: set[str]) -> None:
    user = users.User("u", role, frozenset())
    assert {p for p in users.PERMISSIONS if user.can(p)} == permissions


def test_reader_audience_follows_role_and_groups() -> None:
    from datetime import date

    from core.types import ArticleFacts
    from core.visibility import visible

    def art(groups: tuple[str, ...], status: str = "published",
            valid_until: date | None = None) -> ArticleFacts:
        return ArticleFacts("x", "X", frozenset(groups), (), "", status, None, valid_until,
                            None, None)

    day = date(2026, 11, 25)
    agent = users.reader(users.User("a", "agent", frozenset({"hr"})))
    outsider = users.reader(users.User("b", "agent", frozenset()))
    owner = users.reader(users.User("c", "owner", frozenset()))
    admin = users.reader(users.User("d", "admin", frozenset()))
    assert visible(agent, art(("HR",)), day)
    assert not visible(outsider, art(("hr",)), day)
    assert visible(outsider, art(()), day)
    assert not visible(outsider, art((), "draft"), day) and visible(owner, art((), "draft"), day)
    assert not visible(owner, art(("hr",)), day)
    assert visible(admin, art(("hr",), "retired"), day)
    # expired: out of service for agents (the day itself still counts), shown to owners
    assert visible(outsider, art((), valid_until=day), day)
    assert not visible(outsider, art((), valid_until=date(2026, 11, 24)), day)
    assert visible(owner, art((), valid_until=date(2026, 11, 24)), day)


def test_secret_is_generated_once(tmp_path: Path) -> None:
    first = users.load_secret(tmp_path, None)
    assert users.load_secret(tmp_path, None) == first and len(first) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert users.load_secret(tmp_path, "configured") == "configured"


def test_set_password_replaces_the_hash_and_ends_sessions(state: sqlite3.Connection) -> None:
    users.add_user(state, "ana", "agent", frozenset(), "old-password")
    users.add_user(state, "bo", "agent", frozenset(), "bo-password")
    sessions = [users.start_session(state, "ana"), users.start_session(state, "ana")]
    other = users.start_session(state, "bo")
    token = users.issue_token(state, "ana")
    assert users.set_password(state, "ana", "new-password") == 2
    assert users.authenticate(state, "ana", "old-password") is None
    assert users.authenticate(state, "ana", "new-password") == users.User(
        "ana", "agent", frozenset())
    stored = state.execute("SELECT password_hash FROM users WHERE name = 'ana'").fetchone()[0]
    assert stored.startswith("$argon2") and "new-password" not in stored
    assert [users.user_for_session(state, s) for s in sessions] == [None, None]
    assert users.user_for_session(state, other) == users.User("bo", "agent", frozenset())
    assert users.user_for_token(state, token) == users.User(  # tokens: kb users revoke
        "ana", "agent", frozenset())


def test_set_password_says_what_is_wrong(state: sqlite3.Connection) -> None:
    users.add_user(state, "ana", "agent", frozenset(), "old-password")
    with pytest.raises(KbError, match="8 characters"):
        users.set_password(state, "ana", "short")
    with pytest.raises(KbError, match="no user 'nobody'"):
        users.set_password(state, "nobody", "new-password")
    assert users.authenticate(state, "ana", "old-password") is not None
