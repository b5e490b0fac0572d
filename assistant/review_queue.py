"""The owners' review queue, for ``kb flags`` and the web app alike.

* Flags are the catalog's (date kinds recomputed as of the day asked, honouring "marked
  reviewed"), plus one ``reported`` flag per article and report kind ("wrong", "outdated")
  opened by agents' reports on citations.
* States and history are ``core.store.flag_states``'s; owners' actions go through
  ``assistant.review_actions.apply_action``; owner reassignments are applied to the articles
  here, so ``kb flags --owner`` and the web queue filter on the same owners.
* What a user is shown names only articles that user may see: a flag is left out when its
  article, or any article its evidence names (a duplicate's twin, a link's target), is not
  (:func:`for_viewer`, applied by :func:`queue` and :func:`article_queue`).
* Usage and feedback counts (``assistant.usage.article_signals``: citations; answers with
  a thumbs-down or a report as negative feedback, each answer once) order the queue.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date

from assistant.usage import article_signals
from core.errors import KbError
from core.store import catalog
from core.store.db import Connection
from core.store.flag_states import (
    ACTIVE,
    SYSTEM,
    change_state,
    history,
    load_states,
    reviewed_overrides,
)
from core.types import Article, Flag
from ingest.quality.policy import QualityPolicy
from ingest.quality.queue import ArticleSignals, QueueItem, build_queue
from ingest.quality.run import current_flags

REPORTED = "reported"

@dataclass(frozen=True)
class Filters:
    kind: str | None = None
    owner: str | None = None
    state: str | None = None


def queue_signals(state: Connection) -> dict[str, ArticleSignals]:
    """Citations and negative feedback per article, for the queue's order and rows: negative
    feedback counts answers (a thumbs-down and a report on the same answer count once)."""
    return {aid: ArticleSignals(s.cited, s.negative)
            for aid, s in article_signals(state).items()}


def flag_id(flag: Flag) -> str:
    """A short stable id for URLs: the flag's identity hashed."""
    return hashlib.sha1("\x1f".join(flag.key).encode()).hexdigest()[:16]


def owner_overrides(conn: Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT article_id, owner FROM owner_assignments").fetchall())


def effective_articles(conn: Connection, articles: Iterable[Article],
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


def report_flag(conn: Connection, article_id: str, kind: str) -> Flag | None:
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


def reported_flags(conn: Connection, articles: Mapping[str, Article]) -> list[Flag]:
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


def queue(index_conn: sqlite3.Connection, state: Connection,
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
    items = build_queue(mine, load_states(state), shown, queue_signals(state))
    if visible is not None:  # not the closed flags of articles hidden from them or deleted
        items = for_viewer([i for i in items if i.flag.article_id in shown], current.values(),
                           visible)
    return filter_items(items, filters)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _strings(v)


def _mentioned(items: Iterable[QueueItem]) -> set[str]:
    return {s for i in items for s in (i.flag.article_id, *_strings(i.flag.evidence))}


def named_articles(index_conn: sqlite3.Connection, items: Iterable[QueueItem]) -> list[Article]:
    """The catalog's articles that flags name, by id or path (what :func:`for_viewer` checks
    when the caller has not every article at hand)."""
    names = _mentioned(items)
    ids = [aid for aid, path in catalog.article_paths(index_conn).items()
           if aid in names or path in names]
    return [a for a in (catalog.get_article(index_conn, aid) for aid in ids) if a is not None]


def for_viewer(items: Iterable[QueueItem], articles: Iterable[Article],
               visible: Callable[[Article], bool]) -> list[QueueItem]:
    """The items a viewer may be shown: those whose article, and every article their evidence
    names by id or path (a duplicate's twin, a broken link's target), the viewer may see. A
    flag naming a restricted article is left out whole: its reason quotes the twin's title."""
    items = list(items)
    mentioned = _mentioned(items)
    hidden: set[str] = set()
    for article in articles:
        if (article.id in mentioned or article.path in mentioned) and not visible(article):
            hidden |= {article.id, article.path}
    return [i for i in items if i.flag.article_id not in hidden
            and not hidden.intersection(_strings(i.flag.evidence))]


def filter_items(items: Iterable[QueueItem], filters: Filters) -> list[QueueItem]:
    """Items of a kind, of an owner (case-insensitive; ``none``: no owner), in a state
    (``active`` = open or acknowledged); ``None`` filters nothing."""
    return [i for i in items
            if (not filters.kind or i.flag.kind == filters.kind)
            and (not filters.owner or (i.owner or "none").lower() == filters.owner.lower())
            and (not filters.state or i.state == filters.state
                 or (filters.state == "active" and i.state in ACTIVE))]


def article_history(state: Connection, article_id: str,
                    shown: Iterable[tuple[str, str, str]] | None = None) -> list[dict]:
    """Flag state changes and owner reassignments of one article, oldest first; with
    ``shown``, only the changes of those flags (the viewer's, see :func:`for_viewer`)."""
    keys = None if shown is None else set(shown)
    events = [{"at": e["at"], "by": e["by"], "kind": e["kind"], "from_state": e["from_state"],
               "to_state": e["to_state"], "note": e["note"]} for e in history(state, article_id)
              if keys is None or (article_id, e["kind"], e["key"]) in keys]
    for at, by, old, new in state.execute(
            "SELECT at, by, from_owner, to_owner FROM owner_events WHERE article_id = ? "
            "ORDER BY id", (article_id,)):
        events.append({"at": at, "by": by, "kind": "owner", "from_state": old, "to_state": new,
                       "note": f"owner reassigned to {new}"})
    return sorted(events, key=lambda e: e["at"])


def open_report_flag(state: Connection, article: Article, kind: str, by: str,
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


def article_queue(index_conn: sqlite3.Connection, state: Connection, article: Article,
                  policy: QualityPolicy, as_of: date, include_fixed: bool = False,
                  visible: Callable[[Article], bool] | None = None) -> list[QueueItem]:
    """The queue items of one article (its current flags with their states); with
    ``visible``, only those naming no article it denies (:func:`for_viewer`)."""
    current = effective_articles(state, [article])
    flags = [f for f in current_flags(index_conn, policy, as_of, list(current.values()))
             if f.article_id == article.id]
    flags += reported_flags(state, current)
    items = build_queue(flags, load_states(state, article.id), current, queue_signals(state),
                        include_fixed=include_fixed)
    if visible is None:
        return items
    return for_viewer(items, named_articles(index_conn, items), visible)
