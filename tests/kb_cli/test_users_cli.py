"""``kb users add|list|password|remove|token|revoke|demo`` in-process."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from assistant import users
from core.paths import state_db
from core.store import state as state_store
from kb_cli.main import main


def kb(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_users_lifecycle(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    d = str(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, _ = kb(capsys, "users", "add", "ana", "--role", "owner", "--groups", "HR, it",
                      "--data-dir", d)
    assert code == 0 and "added ana (owner; groups hr,it)" in out
    password = out.split("password: ")[1].split()[0]
    state = state_store.connect(state_db(tmp_path))
    assert users.authenticate(state, "ana", password) is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("typed-password\n"))
    assert kb(capsys, "users", "add", "bo", "--role", "agent", "--password-stdin",
              "--data-dir", d)[1] == "added bo (agent; groups -)\n"
    assert users.authenticate(state, "bo", "typed-password") is not None
    code, token, _ = kb(capsys, "users", "token", "bo", "--data-dir", d)
    assert users.user_for_token(state, token.strip()).name == "bo"
    listed = json.loads(kb(capsys, "users", "list", "--json", "--data-dir", d)[1])
    assert listed == [{"name": "ana", "role": "owner", "groups": ["hr", "it"], "tokens": 0},
                      {"name": "bo", "role": "agent", "groups": [], "tokens": 1}]
    assert "revoked 1 token(s)" in kb(capsys, "users", "revoke", "bo", "--data-dir", d)[1]
    assert users.user_for_token(state, token.strip()) is None
    assert kb(capsys, "users", "remove", "bo", "--data-dir", d)[1] == "removed bo\n"
    code, _, err = kb(capsys, "users", "remove", "bo", "--data-dir", d)
    assert code == 2 and "no user 'bo'" in err
    code, _, err = kb(capsys, "users", "add", "ana", "--role", "agent", "--data-dir", d)
    assert code == 2 and "already exists" in err


def test_users_demo_prints_passwords_only_once(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = kb(capsys, "users", "demo", "--data-dir", str(tmp_path))
    assert code == 0 and out.count("password: ") == 3
    assert "demo user demo-agent (agent) password: " in out
    code, out, _ = kb(capsys, "users", "demo", "--data-dir", str(tmp_path))
    assert out == "demo users already exist (kb users list)\n"


def test_users_password(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    d = str(tmp_path)
    state = state_store.connect(state_db(tmp_path))
    users.add_user(state, "ana", "agent", frozenset(), "old-password")
    session = users.start_session(state, "ana")
    monkeypatch.setattr("sys.stdin", io.StringIO("typed-password\n"))
    code, out, _ = kb(capsys, "users", "password", "ana", "--password-stdin", "--data-dir", d)
    assert (code, out) == (0, "new password for ana; 1 session(s) signed out\n")
    assert users.authenticate(state, "ana", "typed-password") is not None
    assert users.user_for_session(state, session) is None
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: generated, shown once
    code, out, _ = kb(capsys, "users", "password", "ana", "--data-dir", d)
    assert code == 0 and out.startswith("new password for ana; 0 session(s) signed out\n")
    generated = out.split("password: ")[1].split()[0]
    assert users.authenticate(state, "ana", generated) is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = kb(capsys, "users", "password", "ana", "--password-stdin", "--data-dir", d)
    assert code == 2 and "at least 8 characters" in err
    code, _, err = kb(capsys, "users", "password", "nobody", "--data-dir", d)
    assert code == 2 and "no user 'nobody'" in err
    assert users.authenticate(state, "ana", generated) is not None


def test_users_password_prompts_twice_on_a_terminal(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    state = state_store.connect(state_db(tmp_path))
    users.add_user(state, "ana", "agent", frozenset(), "old-password")
    terminal = io.StringIO()
    monkeypatch.setattr(terminal, "isatty", lambda: True)
    monkeypatch.setattr("sys.stdin", terminal)
    typed = iter(["prompted-pw", "prompted-pw", "one-thing", "another"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    code, out, _ = kb(capsys, "users", "password", "ana", "--data-dir", str(tmp_path))
    assert code == 0 and "password: " not in out
    assert users.authenticate(state, "ana", "prompted-pw") is not None
    code, _, err = kb(capsys, "users", "password", "ana", "--data-dir", str(tmp_path))
    assert code == 2 and "the passwords differ" in err
