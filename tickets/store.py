"""Imported tickets and demand-coverage runs in the state DB (``DATA_DIR/state.sqlite``).

The only code that writes or queries the ``tickets``, ``coverage_runs`` and
``ticket_coverage`` tables (``core/store/state.py`` migration 4 makes them). Tickets are keyed
by their id in the source system, so importing the same export again updates rows in place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, fields
from typing import Any

from core.store.db import Connection, Row, now_iso


@dataclass(frozen=True)
class Ticket:
    """An incident or request as the requester described it, with its labels.

    ``group`` is the assignment group (the team that resolved it); ``groups`` are the
    requester's permission groups, when the export carries them (retrieval respects them).
    Dates are ISO 8601 strings (``2026-03-04T10:22:11`` or with an offset).
    """

    id: str
    subject: str
    body: str = ""
    category: str | None = None
    subcategory: str | None = None
    group: str | None = None
    labels: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    opened_at: str | None = None
    resolved_at: str | None = None
    resolution: str | None = None
    source: str = "csv"

    @property
    def text(self) -> str:
        """Subject and body: the requester's words, as retrieval reads them."""
        return f"{self.subject}\n\n{self.body}".strip() if self.body else self.subject

    @property
    def month(self) -> str | None:
        return self.opened_at[:7] if self.opened_at else None


_COLUMNS = ("id", "subject", "body", "category", "subcategory", "assignment_group", "labels",
            "groups", "opened_at", "resolved_at", "resolution", "source")


def _row(ticket: Ticket) -> tuple[Any, ...]:
    values = list(astuple(ticket))
    values[6] = json.dumps(list(ticket.labels))
    values[7] = json.dumps(sorted({g.lower() for g in ticket.groups}))
    return tuple(values)


def _ticket(row: Row) -> Ticket:
    values = list(row)[:len(_COLUMNS)]
    values[6] = tuple(json.loads(values[6]))
    values[7] = tuple(json.loads(values[7]))
    return Ticket(*values)


@dataclass(frozen=True)
class SaveCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def save_tickets(conn: Connection, tickets: Iterable[Ticket]) -> SaveCounts:
    """Insert or update (by id) one batch of tickets, in one transaction."""
    batch = {t.id: _row(t) for t in tickets}  # the last row of an id in the batch wins
    if not batch:
        return SaveCounts()
    old: dict[str, tuple[Any, ...]] = {}
    ids = list(batch)
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        for r in conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM tickets WHERE id IN "
                              f"({', '.join('?' * len(part))})", part):
            old[r[0]] = tuple(r)
    changed = [row for tid, row in batch.items() if old.get(tid) != row]
    now = now_iso()
    sets = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
    with conn:
        conn.executemany(
            f"INSERT INTO tickets ({', '.join(_COLUMNS)}, imported_at) VALUES "
            f"({', '.join('?' * (len(_COLUMNS) + 1))}) ON CONFLICT(id) DO UPDATE SET {sets}, "
            "imported_at = excluded.imported_at", [(*row, now) for row in changed])
    updated = sum(1 for row in changed if row[0] in old)
    return SaveCounts(len(changed) - updated, updated, len(batch) - len(changed))


def iter_tickets(conn: Connection, since: str | None = None) -> Iterator[Ticket]:
    """Every stored ticket (opened on or after ``since``, an ISO date, if given), by id."""
    where, params = ("WHERE opened_at >= ?", (since,)) if since else ("", ())
    yield from (_ticket(r) for r in conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM tickets {where} ORDER BY id", params))


def count_tickets(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM tickets").fetchone()[0])


@dataclass(frozen=True)
class Outcome:
    """What kb would do with one ticket: answer it (from ``article_id``) or not."""

    ticket_id: str
    covered: bool
    confidence: float
    article_id: str | None
    cluster: int | None = None


def save_run(conn: Connection, summary: dict[str, Any],
             outcomes: Iterable[Outcome]) -> int:
    """Store a coverage run's summary and replace the per-ticket outcomes; returns its id."""
    with conn:
        run_id = int(conn.execute(
            "INSERT INTO coverage_runs (run_at, summary) VALUES (?, ?) RETURNING id",
            (summary.get("run_at") or now_iso(), json.dumps(summary))).fetchone()[0])
        conn.execute("DELETE FROM ticket_coverage")
        conn.executemany("INSERT INTO ticket_coverage VALUES (?,?,?,?,?,?) ON CONFLICT "
                         "(ticket_id) DO UPDATE SET run_id = excluded.run_id, covered = "
                         "excluded.covered, confidence = excluded.confidence, article_id = "
                         "excluded.article_id, cluster = excluded.cluster",
                         [(o.ticket_id, run_id, int(o.covered), o.confidence, o.article_id,
                           o.cluster) for o in outcomes])
        # the summaries of the last 20 runs are kept (trends); older ones go
        conn.execute("DELETE FROM coverage_runs WHERE id <= ?", (run_id - 20,))
    return run_id


def last_run(conn: Connection) -> dict[str, Any] | None:
    """The summary of the latest coverage run, with its ``run_id``; None before the first."""
    row = conn.execute("SELECT id, summary FROM coverage_runs ORDER BY id DESC LIMIT 1"
                       ).fetchone()
    return None if row is None else {**json.loads(row[1]), "run_id": row[0]}


def outcomes(conn: Connection) -> dict[str, Outcome]:
    """The latest run's outcome per ticket id."""
    return {r[0]: Outcome(r[0], bool(r[2]), r[3], r[4], r[5]) for r in conn.execute(
        "SELECT * FROM ticket_coverage")}


TICKET_FIELDS = tuple(f.name for f in fields(Ticket))
