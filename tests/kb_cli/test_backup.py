"""``kb backup`` and ``kb restore``: a copy taken while the index is open restores into a
data dir that answers the same and keeps users, review states and the secret key."""

from __future__ import annotations

import io
import stat
from datetime import date
from pathlib import Path

import pytest

from assistant.service import ask, open_assistant
from assistant.types import Viewer
from assistant.users import list_users, load_secret
from core.paths import live_index, state_db
from core.store import state as state_store
from core.store.flag_states import load_states
from ingest.embed import HashingEmbedder
from kb_cli.main import main

KB = Path(__file__).resolve().parents[1] / "data" / "ingest" / "kb"
AS_OF = date(2026, 11, 25)
QUESTIONS = ("How do I reset my VPN password?", "the printer toner is low",
             "Outlook add-in was disabled")


@pytest.fixture(autouse=True)
def hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_EMBEDDER", "hashing")


def answers(data_dir: Path) -> list[tuple[str, list[str], float]]:
    assistant = open_assistant(data_dir, HashingEmbedder())
    try:
        out = []
        for question in QUESTIONS:
            a = ask(assistant, question, Viewer(), AS_OF, record=False)
            out.append((a.answer, [c.article_id for c in a.citations], round(a.confidence, 6)))
        return out
    finally:
        assistant.index.conn.close()
        assistant.state.close()


def state_of(data_dir: Path) -> tuple[dict, list]:
    conn = state_store.connect(state_db(data_dir))
    try:
        return load_states(conn), [(u.name, u.role, n) for u, n in list_users(conn)]
    finally:
        conn.close()


def test_backup_while_open_then_restore_answers_and_reviews_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    data, copy, restored = tmp_path / "data", tmp_path / "backup", tmp_path / "restored"
    assert main(["ingest", str(KB), "--data-dir", str(data), "--as-of", "2026-11-25",
                 "--json"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["users", "add", "alice", "--role", "owner", "--password-stdin",
                 "--data-dir", str(data)]) == 0
    assert main(["review", "printing/toner-low.txt", "--dismiss", "a short article on purpose",
                 "--by", "alice", "--data-dir", str(data), "--as-of", "2026-11-25"]) == 0
    secret = load_secret(data, None)
    before, reviews = answers(data), state_of(data)
    assert any(s.state == "dismissed" for s in reviews[0].values()) and reviews[1]

    server = open_assistant(data, HashingEmbedder())  # the server keeps the index open
    try:
        assert main(["backup", str(copy), "--data-dir", str(data)]) == 0
    finally:
        server.index.conn.close()
        server.state.close()
    assert main(["restore", str(copy), "--data-dir", str(restored)]) == 0

    assert answers(restored) == before
    assert state_of(restored) == reviews
    assert live_index(restored).titles.exists()  # derived, but copied: no re-embedding
    assert (restored / "secret_key").read_text() == secret
    assert stat.S_IMODE((restored / "secret_key").stat().st_mode) == 0o600
    assert stat.S_IMODE(live_index(restored).catalog.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_db(restored).stat().st_mode) == 0o600
    assert stat.S_IMODE(restored.stat().st_mode) == 0o700
    assert "backed up index-1 (6 articles" in capsys.readouterr().out


def test_restore_refuses_a_non_empty_target_unless_forced(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, copy = tmp_path / "data", tmp_path / "backup"
    assert main(["ingest", str(KB), "--data-dir", str(data), "--json"]) == 0
    assert main(["backup", str(copy), "--data-dir", str(data)]) == 0
    capsys.readouterr()
    assert main(["restore", str(copy), "--data-dir", str(data)]) == 2
    assert capsys.readouterr().err == (f"kb restore: {data} is not empty: restore into a new "
                                       "or empty folder (or --force)\n")
    assert main(["backup", str(copy), "--data-dir", str(data)]) == 2  # never over a backup
    assert main(["restore", str(copy), "--data-dir", str(data), "--force"]) == 0
    out = capsys.readouterr().out
    assert "the previous content is in" in out
    assert len(list(tmp_path.glob("data.replaced-*"))) == 1
    assert len(answers(data)) == 3


def test_restore_from_a_folder_that_is_no_backup_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "junk").mkdir()
    assert main(["restore", str(tmp_path / "junk"), "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a kb backup" in err
