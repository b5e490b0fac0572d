"""``kb db upgrade``, and the commands that refuse a Postgres schema that is not theirs."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

from core.paths import live_index, state_db
from core.settings import Settings
from core.store import pg
from core.store import state as state_store
from core.store.db import now_iso
from ingest.embed import HashingEmbedder
from ingest.update import update_index
from kb_cli.main import main
from tests.assistant.helpers import KB_SAMPLES
from tests.postgres import new_schema

NEED = len(state_store.MIGRATIONS)


def test_kb_db_upgrade_on_sqlite_creates_then_reports_up_to_date(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--data-dir", str(tmp_path)]) == 0
    assert main(["db", "upgrade", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{state_db(tmp_path)}: schema 0 -> {NEED}", f"{state_db(tmp_path)}: schema {NEED}, "
        "up to date"]


def _at_schema(base: str, version: int) -> str:
    url = new_schema(base)
    with closing(pg.PgConnection(url)) as conn:
        pg.upgrade(conn, state_store.MIGRATIONS[:version], now_iso)
    return url


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Path:
    """Two articles of kb_samples/ ingested, their flags in a Postgres state DB."""
    data_dir = tmp_path_factory.mktemp("db-cmd") / "data"
    settings = Settings(data_dir=data_dir, embedder="hashing",
                        database_url=_at_schema(postgres_url, NEED))
    update_index(live_index(data_dir), state_db(data_dir), KB_SAMPLES / "access",
                 HashingEmbedder(), settings, date(2026, 11, 25))
    return data_dir


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    return monkeypatch


def test_kb_ask_refuses_an_old_schema_until_kb_db_upgrade(
        data_dir: Path, postgres_url: str, env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = _at_schema(postgres_url, 3)
    env.setenv("KB_DATABASE_URL", url)
    ask = ["ask", "how do I get access", "--data-dir", str(data_dir), "--json"]
    assert main(ask) == 2
    assert capsys.readouterr().err == (
        f"kb ask: the database at {url} is at schema 3, this kb needs {NEED}: run kb db "
        "upgrade\n")
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == f"{url}: schema 3 -> {NEED}\n"
    assert main(ask) == 0
    answered = json.loads(capsys.readouterr().out)["answered"]
    with closing(pg.PgConnection(url)) as conn:  # a question not answered is a gap, there
        assert conn.execute("SELECT count(*) FROM gaps").fetchone()[0] == int(not answered)
    assert not state_db(data_dir).exists()  # the state is in Postgres only


def test_kb_serve_refuses_a_newer_schema_before_it_listens(
        data_dir: Path, postgres_url: str, env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = new_schema(postgres_url)
    with closing(pg.PgConnection(url)) as conn:
        pg.upgrade(conn, [*state_store.MIGRATIONS, "CREATE TABLE later (x TEXT);"], now_iso)
    env.setenv("KB_DATABASE_URL", url)
    assert main(["serve", "--data-dir", str(data_dir), "--port", "1"]) == 2
    assert capsys.readouterr().err.endswith(
        f"is at schema {NEED + 1}, newer than this kb (schema {NEED}): upgrade kb\n")


def test_kb_backup_says_where_the_postgres_state_is_and_copies_no_sqlite(
        data_dir: Path, postgres_url: str, env: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("KB_DATABASE_URL", "postgresql://kb:secret@db.example:5432/kb")
    assert main(["backup", str(tmp_path / "b"), "--data-dir", str(data_dir)]) == 0
    manifest = json.loads((tmp_path / "b" / "BACKUP.json").read_text())
    assert manifest["state"] is False and not state_db(tmp_path / "b").exists()
    assert manifest["state_database"]["url"] == "postgresql://kb:***@db.example:5432/kb"
    assert manifest["state_database"]["backup"].startswith("pg_dump --format=custom")
    assert "dump it with pg_dump" in capsys.readouterr().out
