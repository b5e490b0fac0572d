"""Flags' review states and their audit trail, in the state DB (it outlives index switches).

A flag is ``open``, ``acknowledged``, ``fixed`` or ``dismissed``; every change is an event
(who, when, from, to, note). :func:`reconcile` runs after each ingest: new flags open, flags
whose cause is gone become fixed, a dismissed flag stays dismissed until its article changes.
"Mark reviewed" records a review date that overrides the article's own (``reviewed_on``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.errors import KbError
from core.store.db import Connection, Row, now_iso, serialize
from core.types import Flag

STATES = ("open", "acknowledged", "fixed", "dismissed")
ACTIVE = ("open", "acknowledged")
SYSTEM = "kb"

Key = tuple[str, str, str]


@dataclass(frozen=True)
class FlagState:
    """A flag's review state, with the flag as last seen (so fixed flags can still be shown)."""

    flag: Flag
    state: str
    content_hash: str | None = None
    note: str | None = None
    changed_by: str = SYSTEM
    changed_at: str = ""


@dataclass(frozen=True)
class ReconcileSummary:
    opened: int = 0
    reopened: int = 0
    fixed: int = 0
    kept: dict[str, int] = field(default_factory=dict)


def _row_state(row: Row) -> FlagState:
    flag = Flag(row["article_id"], row["kind"], row["severity"], row["reason"],
                json.loads(row["evidence"]))
    return FlagState(flag, row["state"], row["content_hash"], row["note"], row["changed_by"],
                     row["changed_at"])


def load_states(conn: Connection, article_id: str | None = None) -> dict[Key, FlagState]:
    sql = "SELECT * FROM flag_states" + (" WHERE article_id = ?" if article_id else "")
    rows = conn.execute(sql, (article_id,) if article_id else ()).fetchall()
    return {(r["article_id"], r["kind"], r["key"]): _row_state(r) for r in rows}


def _write(conn: Connection, flag: Flag, old: FlagState | None, to: str, by: str,
           note: str | None, content_hash: str | None, at: str) -> None:
    """Upsert the state row and append the event (the caller holds the transaction)."""
    key = flag.key
    conn.execute(
        "INSERT INTO flag_states VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT "
        "(article_id, kind, key) DO UPDATE SET state=excluded.state, "
        "severity=excluded.severity, reason=excluded.reason, evidence=excluded.evidence, "
        "content_hash=excluded.content_hash, note=excluded.note, "
        "changed_by=excluded.changed_by, changed_at=excluded.changed_at",
        (*key, to, flag.severity, flag.reason, json.dumps(flag.evidence, default=str),
         content_hash, note, by, at, at))
    conn.execute("INSERT INTO flag_events (article_id, kind, key, at, by, from_state, to_state, "
                 "note) VALUES (?,?,?,?,?,?,?,?)",
                 (*key, at, by, old.state if old else None, to, note))


def _refresh(conn: Connection, flag: Flag) -> None:
    """Keep the stored copy of an unchanged-state flag current (reason and evidence may move)."""
    conn.execute("UPDATE flag_states SET severity=?, reason=?, evidence=? "
                 "WHERE article_id=? AND kind=? AND key=?",
                 (flag.severity, flag.reason, json.dumps(flag.evidence, default=str), *flag.key))


def reconcile(conn: Connection, flags: Iterable[Flag], hashes: Mapping[str, str],
              by: str = SYSTEM, at: str | None = None,
              kinds: Iterable[str] | None = None) -> ReconcileSummary:
    """Bring states in line with the flags just computed; ``hashes`` = article id -> hash.

    With ``kinds`` (e.g. :data:`~ingest.quality.policy.KINDS`), only flags of those kinds are
    touched, so flags that other stages open (agents' reports) are left to them.
    """
    at = at or now_iso()
    states = load_states(conn)
    if kinds is not None:
        computed = set(kinds)
        states = {k: s for k, s in states.items() if k[1] in computed}
    current = {f.key: f for f in flags}
    opened = reopened = fixed = 0
    kept: dict[str, int] = {}
    with conn:
        for key, flag in current.items():
            old = states.get(key)
            article_hash = hashes.get(flag.article_id)
            if old is None:
                _write(conn, flag, None, "open", by, "detected", None, at)
                opened += 1
            elif old.state == "fixed":
                _write(conn, flag, old, "open", by, "detected again", None, at)
                reopened += 1
            elif old.state == "dismissed" and old.content_hash != article_hash:
                _write(conn, flag, old, "open", by, "article changed since it was dismissed",
                       None, at)
                reopened += 1
            else:
                _refresh(conn, flag)
                kept[old.state] = kept.get(old.state, 0) + 1
        for key, old in states.items():
            if key in current or old.state == "fixed":
                continue
            article_hash = hashes.get(key[0])
            if old.state == "dismissed" and article_hash == old.content_hash:
                continue
            note = "article removed" if article_hash is None else "cause gone at ingest"
            _write(conn, old.flag, old, "fixed", by, note, article_hash, at)
            fixed += 1
    return ReconcileSummary(opened, reopened, fixed, kept)


def change_state(conn: Connection, flags: Iterable[Flag], to: str, by: str,
                 note: str | None, content_hash: str | None, at: str | None = None
                 ) -> list[tuple[Flag, str | None]]:
    """Set ``to`` on each flag (a person's action); returns ``(flag, previous state)``."""
    if to not in STATES:
        raise KbError(f"unknown flag state {to!r} (expected one of {', '.join(STATES)})")
    if to == "dismissed" and not (note or "").strip():
        raise KbError("dismissing a flag needs a reason")
    at = at or now_iso()
    changed = []
    with conn:
        # read and write as one: two owners acting at once on two instances must not both
        # see the old state and both record the change
        serialize(conn, "flag_states")
        states = load_states(conn)
        for flag in flags:
            old = states.get(flag.key)
            if old is not None and old.state == to and old.note == note:
                continue
            _write(conn, flag, old, to, by, note, content_hash, at)
            changed.append((flag, old.state if old else None))
    return changed


def mark_reviewed(conn: Connection, article_id: str, on: date, by: str,
                  content_hash: str | None, at: str | None = None) -> None:
    with conn:
        conn.execute("INSERT INTO reviewed_on VALUES (?,?,?,?,?) ON CONFLICT (article_id) DO "
                     "UPDATE SET reviewed_on = excluded.reviewed_on, by = excluded.by, "
                     "at = excluded.at, content_hash = excluded.content_hash",
                     (article_id, on.isoformat(), by, at or now_iso(), content_hash))


def reviewed_overrides(conn: Connection) -> dict[str, date]:
    """Article id -> the date an owner marked it reviewed in kb."""
    return {r[0]: date.fromisoformat(r[1])
            for r in conn.execute("SELECT article_id, reviewed_on FROM reviewed_on")}


def history(conn: Connection, article_id: str | None = None) -> list[dict[str, Any]]:
    """The audit trail, oldest first."""
    sql = "SELECT * FROM flag_events" + (" WHERE article_id = ?" if article_id else "")
    rows = conn.execute(sql + " ORDER BY id", (article_id,) if article_id else ()).fetchall()
    return [dict(r) for r in rows]
