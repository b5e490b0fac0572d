"""The owners' review queue for the web app: a thin adapter over ``core.store.flag_states`` and
``ingest.quality``, adding what agents' feedback brings.

* Flags are the catalog's (date kinds recomputed as of today, honouring "marked reviewed"),
  plus one ``reported`` flag per article and report kind ("wrong", "outdated") opened by
  agents' reports on citations.
* States, actions and history are ``core.store.flag_states``'s; reassigning an owner is kept here
  (``owner_assignments``) and shown in the history.
* Usage and feedback counts (``assistant.usage.article_signals``: citations; not-helpful
  votes plus reports as negative feedback) order the queue, as in ``kb flags``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date

from assistant.usage import article_signals
from assistant.usage import ensure_schema as ensure_usage_schema
from core.errors import KbError
from core.store.catalog import now_iso
from core.store.flag_states import (
    ACTIVE,
    SYSTEM,
    change_state,
    history,
    load_states,
    mark_reviewed,
    reviewed_overrides,
)
from core.store.flag_states import ensure_schema as ensure_review_schema
from ingest.quality.policy import DATE_KINDS, QualityPolicy
from ingest.quality.queue import ArticleSignals, QueueItem, build_queue
from ingest.quality.run import current_flags
from ingest.types import Article, Flag

REPORTED = "reported"
ACTIONS = ("acknowledge", "dismiss", "reviewed", "reassign", "reopen")

SCHEMA = """
CREATE TABLE IF NOT EXISTS owner_assignments (
    article_id TEXT PRIMARY KEY, owner TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS owner_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL, from_owner TEXT,
    to_owner TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Filters:
    kind: str | None = None
    owner: str | None = None
    state: str | None = None


def ensure_schema(conn: sqlite3.Connection) -> None:
    ensure_usage_schema(conn)
    ensure_review_schema(conn)
    conn.executescript(SCHEMA)


def queue_signals(state: sqlite3.Connection) -> dict[str, ArticleSignals]:
    return {aid: ArticleSignals(s.cited, s.not_helpful + s.reports)
            for aid, s in article_signals(state).items()}


def flag_id(flag: Flag) -> str:
    """A short stable id for URLs: the flag's identity hashed."""
    return hashlib.sha1("\x1f".join(flag.key).encode()).hexdigest()[:16]


def owner_overrides(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT article_id, owner FROM owner_assignments").fetchall())


def effective_articles(conn: sqlite3.Connection, articles: Iterable[Article],
                       ) -> dict[str, Article]:
    """Articles with owners' reassignments and "marked reviewed" dates applied."""
    owners = owner_overrides(conn)
    reviewed = reviewed_overrides(conn)
    out = {}
    for a in articles:
        day = reviewed.get(a.id)
        if day and (a.last_reviewed is None or a.last_reviewed < day):
            a = replace(a, last_reviewed=day)
        if a.id in owners:
            a = replace(a, owner=owners[a.id])
        out[a.id] = a
    return out


def report_flag(conn: sqlite3.Connection, article_id: str, kind: str) -> Flag | None:
    """The ``reported`` flag of an article and report kind, from all its reports so far."""
    count, last = conn.execute("SELECT count(*), max(reported_at) FROM reports WHERE "
                               "article_id = ? AND kind = ?", (article_id, kind)).fetchone()
    if not count:
        return None
    comments = [r[0] for r in conn.execute(
        "SELECT comment FROM reports WHERE article_id = ? AND kind = ? AND comment IS NOT "
        "NULL ORDER BY id DESC LIMIT 5", (article_id, kind))]
    return Flag(article_id, REPORTED, "high",
                f"agents reported this article as {kind} ({count} report"
                f"{'s' if count != 1 else ''})",
                {"key": kind, "reports": count, "last_reported": last, "comments": comments})


def reported_flags(conn: sqlite3.Connection, articles: Mapping[str, Article]) -> list[Flag]:
    """One high-severity flag per article and report kind, while there are reports not yet
    dealt with (newer than the flag's last dismissal or fix by a person)."""
    states = load_states(conn)
    rows = conn.execute("SELECT article_id, kind, max(reported_at) FROM reports "
                        "GROUP BY article_id, kind ORDER BY article_id, kind").fetchall()
    flags = []
    for article_id, kind, last in rows:
        if article_id not in articles:
            continue
        state = states.get((article_id, REPORTED, kind))
        # a person closed it and nobody reported it since; ``reconcile`` (changed_by "kb")
        # marks it fixed at every ingest because no rule computes it: that does not count
        if state and state.state in ("fixed", "dismissed") and state.changed_by != SYSTEM \
                and last <= state.changed_at:
            continue
        flag = report_flag(conn, article_id, kind)
        if flag is not None:
            flags.append(flag)
    return flags


def queue(index_conn: sqlite3.Connection, state: sqlite3.Connection,
          articles: Iterable[Article], policy: QualityPolicy, as_of: date,
          filters: Filters = Filters(), visible: Callable[[Article], bool] | None = None,
          cache: dict | None = None) -> list[QueueItem]:
    """The flag queue in ``ingest.quality.queue`` order, filtered, on the articles for which
    ``visible`` holds. ``cache`` (a dict the caller keeps per index) saves recomputing the
    flags of every article while the day and the "marked reviewed" dates stay the same."""
    current = effective_articles(state, articles)
    key = (as_of, tuple(sorted(reviewed_overrides(state).items())))
    flags = cache.get(key) if cache is not None else None
    if flags is None:
        flags = current_flags(index_conn, policy, as_of, list(current.values()))
        if cache is not None:
            cache.clear()
            cache[key] = flags
    shown = {a.id: a for a in current.values() if visible is None or visible(a)}
    mine = [f for f in flags if f.article_id in shown] + reported_flags(state, shown)
    return filter_items(build_queue(mine, load_states(state), shown, queue_signals(state)),
                        filters)


def filter_items(items: Iterable[QueueItem], filters: Filters) -> list[QueueItem]:
    """Items of a kind, of an owner (case-insensitive), in a state (``active`` = open or
    acknowledged); ``None`` filters nothing."""
    return [i for i in items
            if (not filters.kind or i.flag.kind == filters.kind)
            and (not filters.owner or (i.owner or "").lower() == filters.owner.lower())
            and (not filters.state or i.state == filters.state
                 or (filters.state == "active" and i.state in ACTIVE))]


def apply_action(state: sqlite3.Connection, item: QueueItem, article: Article, action: str,
                 by: str, reason: str | None = None, owner: str | None = None,
                 today: date | None = None) -> None:
    """acknowledge, dismiss (needs a reason), reviewed, reassign (needs an owner), reopen."""
    flag, note = item.flag, (reason or "").strip() or None
    if action == "acknowledge":
        change_state(state, [flag], "acknowledged", by, note, article.content_hash)
    elif action == "dismiss":
        change_state(state, [flag], "dismissed", by, note, article.content_hash)
    elif action == "reopen":
        change_state(state, [flag], "open", by, note, article.content_hash)
    elif action == "reviewed":
        mark_reviewed(state, article.id, today or date.today(), by, article.content_hash)
        states = load_states(state, article.id)
        settled = [s.flag for s in states.values() if s.state in ("open", "acknowledged")
                   and (s.flag.kind in DATE_KINDS or s.flag.kind == REPORTED)]
        change_state(state, {f.key: f for f in [flag, *settled]}.values(), "fixed", by,
                     note or "article marked reviewed", article.content_hash)
    elif action == "reassign":
        reassign(state, article, (owner or "").strip(), by)
    else:
        raise KbError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")


def reassign(state: sqlite3.Connection, article: Article, owner: str, by: str) -> None:
    if not owner or len(owner) > 200:
        raise KbError("reassign needs the new owner (1-200 characters)")
    at = now_iso()
    with state:
        state.execute("INSERT OR REPLACE INTO owner_assignments VALUES (?,?,?,?)",
                      (article.id, owner, by, at))
        state.execute("INSERT INTO owner_events (article_id, from_owner, to_owner, by, at) "
                      "VALUES (?,?,?,?,?)", (article.id, article.owner, owner, by, at))


def article_history(state: sqlite3.Connection, article_id: str) -> list[dict]:
    """Flag state changes and owner reassignments of one article, oldest first."""
    events = [{"at": e["at"], "by": e["by"], "kind": e["kind"], "from_state": e["from_state"],
               "to_state": e["to_state"], "note": e["note"]} for e in history(state, article_id)]
    for at, by, old, new in state.execute(
            "SELECT at, by, from_owner, to_owner FROM owner_events WHERE article_id = ? "
            "ORDER BY id", (article_id,)):
        events.append({"at": at, "by": by, "kind": "owner", "from_state": old, "to_state": new,
                       "note": f"owner reassigned to {new}"})
    return sorted(events, key=lambda e: e["at"])




def open_report_flag(state: sqlite3.Connection, article: Article, kind: str, by: str,
                     comment: str | None) -> Flag:
    """Open (or reopen) the ``reported`` flag after an agent's report; returns the flag."""
    flag = report_flag(state, article.id, kind)
    if flag is None:
        raise KbError(f"no {kind!r} report on {article.id}")
    current = load_states(state, article.id).get(flag.key)
    if current is None or current.state in ("fixed", "dismissed"):
        note = f"reported {kind} by an agent" + (f": {comment.strip()}" if comment else "")
        change_state(state, [flag], "open", by, note[:500], article.content_hash)
    return flag


def article_queue(index_conn: sqlite3.Connection, state: sqlite3.Connection, article: Article,
                  policy: QualityPolicy, as_of: date) -> list[QueueItem]:
    """The queue items of one article (its current flags with their states)."""
    current = effective_articles(state, [article])
    flags = [f for f in current_flags(index_conn, policy, as_of, list(current.values()))
             if f.article_id == article.id]
    flags += reported_flags(state, current)
    return build_queue(flags, load_states(state, article.id), current, queue_signals(state),
                       include_fixed=False)
