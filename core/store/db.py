"""Opening kb's SQLite databases: the same pragmas everywhere, numbered migrations on open.

A migration is a SQL script or a function of the connection; ``PRAGMA user_version`` counts the
ones applied. ``application_id`` tells kb's two kinds of database apart, so a database of the
wrong kind (or one written before the id existed) is recognised instead of mis-migrated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

Migration = str | Callable[[sqlite3.Connection], None]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def open_db(path: Path, migrations: Sequence[Migration], app_id: int,
            legacy_version: Callable[[sqlite3.Connection], int] | None = None,
            ) -> sqlite3.Connection:
    """Open (creating if needed) and bring the schema up to date, once, here.

    ``legacy_version`` says how many migrations a database without kb's ``application_id``
    already has (databases written before the id was set); default: its ``user_version``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
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
    return conn
