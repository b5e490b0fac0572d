"""``kb users add|list|remove|token|revoke|demo`` in-process."""

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
