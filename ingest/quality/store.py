"""Flags in the index catalog: replaced as a whole after every ingest, read by CLI and web."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import date

from core.store import catalog
from ingest.types import Flag


def save_flags(conn: sqlite3.Connection, flags: Iterable[Flag], as_of: date) -> None:
    """Replace every stored flag in one transaction, noting the reference date used."""
    rows = [(f.article_id, f.kind, str(f.evidence.get("key", "")), f.severity, f.reason,
             json.dumps(f.evidence, default=str, sort_keys=True)) for f in flags]
    with catalog.transaction(conn):
        conn.execute("DELETE FROM flags")
        conn.executemany("INSERT OR REPLACE INTO flags VALUES (?,?,?,?,?,?)", rows)
        catalog.set_kv(conn, "flags_as_of", as_of.isoformat())
        catalog.set_kv(conn, "flags_computed_at", catalog.now_iso())


def load_flags(conn: sqlite3.Connection, kinds: Iterable[str] | None = None) -> list[Flag]:
    """Stored flags, optionally of some kinds only."""
    rows = conn.execute("SELECT article_id, kind, severity, reason, evidence FROM flags "
                        "ORDER BY article_id, kind, key").fetchall()
    wanted = set(kinds) if kinds is not None else None
    return [Flag(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows
            if wanted is None or r[1] in wanted]
