"""Opening kb's SQLite databases: the same pragmas everywhere, numbered migrations on open.

A migration is a SQL script or a function of the connection; ``PRAGMA user_version`` counts the
ones applied. ``application_id`` tells kb's two kinds of database apart, so a database of the
wrong kind (or one written before the id existed) is recognised instead of mis-migrated.

A new database is created beside its path and renamed into place once its schema is written,
with mode 0600: kb never leaves a 0-byte file, so a 0-byte file (or one SQLite cannot read)
is corruption, reported as one :class:`~core.errors.KbError` that says how to recover.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from core.errors import KbError
from core.paths import private_dir

#: SQLite's result codes for a file that is not (or no longer) a readable database
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
RECOVERY = "restore from backup (kb restore) or rebuild with kb ingest into a new --data-dir"

Migration = str | Callable[[sqlite3.Connection], None]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def corrupt_error(path: Path, why: str) -> KbError:
    return KbError(f"{path} is corrupt ({why}): {RECOVERY}")


def open_db(path: Path, migrations: Sequence[Migration], app_id: int,
            legacy_version: Callable[[sqlite3.Connection], int] | None = None,
            ) -> sqlite3.Connection:
    """Open (creating if needed) and bring the schema up to date, once, here.

    ``legacy_version`` says how many migrations a database without kb's ``application_id``
    already has (databases written before the id was set); default: its ``user_version``.
    """
    if not path.exists():
        _create(path, migrations, app_id, legacy_version)
    elif path.stat().st_size == 0:
        raise corrupt_error(path, "the file is empty")
    try:
        return _open(path, migrations, app_id, legacy_version)
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", None) in _CORRUPT_CODES:
            raise corrupt_error(path, str(exc)) from exc
        raise


def _create(path: Path, migrations: Sequence[Migration], app_id: int,
            legacy_version: Callable[[sqlite3.Connection], int] | None) -> None:
    """A new database, 0600, written aside and renamed into place with its schema."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
        leftover.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    conn = _open(tmp, migrations, app_id, legacy_version)
    conn.execute("PRAGMA journal_mode=DELETE")  # folds the WAL in, so one file moves
    conn.close()
    try:
        os.link(tmp, path)  # never replaces a database another process created meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _open(path: Path, migrations: Sequence[Migration], app_id: int,
          legacy_version: Callable[[sqlite3.Connection], int] | None) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if conn.execute("PRAGMA application_id").fetchone()[0] != app_id:
            version = legacy_version(conn) if legacy_version else version
        for number, step in enumerate(migrations[version:], start=version + 1):
            with conn:
                if isinstance(step, str):
                    conn.executescript(f"BEGIN;{step};PRAGMA user_version={number};COMMIT;")
                else:
                    conn.execute("BEGIN")
                    step(conn)
                    conn.execute(f"PRAGMA user_version={number}")
        conn.execute(f"PRAGMA application_id={app_id}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn
