"""Opening kb's SQLite databases: the same pragmas everywhere, numbered migrations on open.

A migration is a SQL script or a function of the connection; ``PRAGMA user_version`` counts the
ones applied. ``application_id`` tells kb's two kinds of database apart, so a database of the
wrong kind (or one written before the id existed) is recognised instead of mis-migrated.

A new database is created beside its path and renamed into place once its schema is written,
with mode 0600: kb never leaves a 0-byte file, so a 0-byte file (or one SQLite cannot read)
is corruption, reported as one :class:`~core.errors.KbError` that says how to recover.

The state DB may be in Postgres instead (``core/store/pg.py``): :class:`Connection` is what
kb's code may use of either, and :func:`table_names` / :func:`ping` are the reads that the
two engines spell differently (``sqlite_master``, ``information_schema``).
"""

from __future__ import annotations

import os
import sqlite3
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from core.errors import KbError
from core.paths import private_dir

#: SQLite's result codes for a file that is not (or no longer) a readable database
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
RECOVERY = "restore from backup (kb restore) or rebuild with kb ingest into a new --data-dir"

#: a SQL script, or a function of the connection (the state DB's: SQLite's or Postgres's)
Migration = str | Callable[[Any], None]


class Connection(Protocol):
    """What kb's code uses of a database connection: ``sqlite3.Connection`` has it, and so
    has the state DB's Postgres connection (:class:`core.store.pg.PgConnection`)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...

    def close(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, kind: Any, exc: Any, tb: Any, /) -> Any: ...


#: a result row, readable by index and by column name (``sqlite3.Row``, ``pg.Row``)
Row = Any


def engine(conn: Connection) -> str:
    """``"sqlite"`` or ``"postgres"``: where SQL the two engines spell differently is chosen."""
    return str(getattr(conn, "engine", "sqlite"))


def serialize(conn: Connection, name: str) -> None:
    """The first statement inside ``with conn:`` of a read-then-write transaction: until it
    ends, every other connection's transaction that serializes on ``name`` waits (Postgres:
    a transaction-scoped advisory lock; SQLite: the database's write lock, taken before the
    reads, by ``BEGIN IMMEDIATE``), so what the transaction read is still true when it writes."""
    if engine(conn) == "postgres":
        conn.execute("SELECT pg_advisory_xact_lock(?)", (zlib.crc32(name.encode()),))
    else:
        conn.execute("BEGIN IMMEDIATE")


def table_names(conn: Connection) -> set[str]:
    """The tables of the database (of the connection's schema, in Postgres; SQLite's own
    ``sqlite_*`` tables left out)."""
    if engine(conn) == "postgres":
        sql = ("SELECT table_name FROM information_schema.tables "
               "WHERE table_schema = current_schema()")
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    return {row[0] for row in conn.execute(sql)}


def ping(conn: Connection) -> None:
    """A cheap read that fails if the database cannot be read (``/healthz``)."""
    if engine(conn) == "postgres":
        conn.execute("SELECT 1").fetchone()
    else:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def corrupt_error(path: Path, why: str) -> KbError:
    return KbError(f"{path} is corrupt ({why}): {RECOVERY}")


def applied_migrations(path: Path, app_id: int) -> int:
    """How many migrations a database file has, read without changing it (0: no file yet,
    or one without kb's ``application_id``)."""
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        if conn.execute("PRAGMA application_id").fetchone()[0] != app_id:
            return 0
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


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
