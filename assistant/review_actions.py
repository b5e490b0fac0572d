"""The one review service: what an owner's action on an article's flags does.

``kb review`` and ``POST /api/flags/{id}/actions`` both call :func:`apply_action`, and both
show the caller the :class:`ActionResult` (every state change, and what stayed open and why).

- ``acknowledge``: the chosen active flags -> acknowledged ("seen, will fix").
- ``dismiss`` (needs a reason): the chosen active flags -> dismissed; they stay dismissed
  until the article changes.
- ``reopen``: the chosen acknowledged or closed flags -> open.
- ``resolve`` (needs a note): the chosen active flags -> fixed, with the note. With dismiss,
  the only way to close an agent's ``reported`` flag.
- ``reviewed``: records the review date (``as_of``) in the state DB and the live catalog, and
  fixes the date flags it settles: ``stale`` (also ``no-review-date``) and ``expiring``;
  ``obsolete`` and ``partly-obsolete`` only with ``confirm_products`` (then dismissed as
  "products confirmed", until the article changes). ``expired``, agents' reports and every
  other kind stay open, and the result says so.
- ``reassign`` (needs an owner): the article's owner in kb from now on (queue, filters,
  history); flags unchanged.

"The chosen flags" are the article's current flags, narrowed to one flag (``key``, the web's
flag id) or one kind (``kind``, the CLI's ``--flag``); none chosen is an error.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date

from assistant.review_queue import REPORTED, article_queue, effective_articles
from core.errors import KbError
from core.store import catalog
from core.store.db import Connection, now_iso
from core.store.flag_states import ACTIVE, change_state, mark_reviewed
from core.types import Article, Flag
from ingest.quality.policy import QualityPolicy
from ingest.quality.queue import QueueItem

ACTIONS = ("acknowledge", "dismiss", "reopen", "resolve", "reviewed", "reassign")
#: kinds that "mark reviewed" settles on its own
SETTLED_BY_REVIEW = frozenset({"stale", "expiring"})

#: the lifecycle kinds an owner closes by confirming the products are still right
PRODUCT_KINDS = ("obsolete", "partly-obsolete")


@dataclass(frozen=True)
class Change:
    kind: str
    key: str
    from_state: str | None
    to_state: str


@dataclass(frozen=True)
class ActionResult:
    article_id: str
    action: str
    by: str
    changes: tuple[Change, ...] = ()
    still_open: tuple[str, ...] = ()  # why a flag the caller may expect closed is not
    reviewed_on: date | None = None
    owner: str | None = None

    @property
    def message(self) -> str:
        """One line for the caller: what changed, then what did not."""
        done = [f"{c.kind}{' (' + c.key + ')' if c.key else ''} {c.from_state or 'open'} -> "
                f"{c.to_state}" for c in self.changes]
        if self.reviewed_on:
            done.insert(0, f"marked reviewed on {self.reviewed_on.isoformat()} by {self.by}")
        if self.owner:
            done.insert(0, f"owner is now {self.owner} (by {self.by})")
        text = f"{self.article_id}: " + ("; ".join(done) or "nothing changed")
        return text + "".join(f"; {why}" for why in self.still_open)


@dataclass(frozen=True)
class Stores:
    """The live index's catalog and the state DB, as the action needs them."""

    index: sqlite3.Connection
    state: Connection
    policy: QualityPolicy


def _chosen(items: list[QueueItem], kind: str | None, key: tuple[str, str, str] | None,
            states: tuple[str, ...]) -> list[QueueItem]:
    return [i for i in items if i.state in states and (kind is None or i.flag.kind == kind)
            and (key is None or i.flag.key == key)]


def _changes(changed: list[tuple[Flag, str | None]], to: str) -> tuple[Change, ...]:
    return tuple(Change(f.kind, str(f.evidence.get("key", "")), before, to)
                 for f, before in changed)


def apply_action(stores: Stores, article: Article, action: str, by: str, as_of: date,
                 reason: str | None = None, owner: str | None = None, kind: str | None = None,
                 key: tuple[str, str, str] | None = None, confirm_products: bool = False,
                 ) -> ActionResult:
    """Apply one owner action to an article's flags (see the module's table)."""
    note = (reason or "").strip() or None
    article = effective_articles(stores.state, [article])[article.id]
    items = article_queue(stores.index, stores.state, article, stores.policy, as_of,
                          include_fixed=True)
    if action == "reassign":
        return _reassign(stores.state, article, (owner or "").strip(), by)
    if action == "reviewed":
        return _reviewed(stores, article, items, by, as_of, note, confirm_products)
    targets = {"acknowledge": (ACTIVE, "acknowledged"), "dismiss": (ACTIVE, "dismissed"),
               "reopen": (("acknowledged", "fixed", "dismissed"), "open"),
               "resolve": (ACTIVE, "fixed")}
    if action not in targets:
        raise KbError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
    if action in ("dismiss", "resolve") and not note:
        raise KbError(f"{action} needs a {'reason' if action == 'dismiss' else 'note'}: "
                      "say why, for the audit trail")
    states, to = targets[action]
    chosen = _chosen(items, kind, key, states)
    if not chosen:
        named = key[1] if key is not None else kind
        raise KbError(f"{article.id}: no {named + ' ' if named else ''}flag is "
                      f"{' or '.join(states)}, so there is nothing to {action}")
    changed = change_state(stores.state, [i.flag for i in chosen], to, by, note,
                           article.content_hash)
    return ActionResult(article.id, action, by, _changes(changed, to))


def _reviewed(stores: Stores, article: Article, items: list[QueueItem], by: str, as_of: date,
              note: str | None, confirm_products: bool) -> ActionResult:
    mark_reviewed(stores.state, article.id, as_of, by, article.content_hash)
    catalog.apply_reviewed(stores.index, {article.id: as_of})
    active = [i for i in items if i.state in ACTIVE]
    settled = [i.flag for i in active if i.flag.kind in SETTLED_BY_REVIEW]
    fixed = change_state(stores.state, settled, "fixed", by,
                         note or f"marked reviewed on {as_of.isoformat()}", article.content_hash)
    changes = _changes(fixed, "fixed")
    obsolete = [i.flag for i in active if i.flag.kind in PRODUCT_KINDS]
    if obsolete and confirm_products:
        dismissed = change_state(stores.state, obsolete, "dismissed", by,
                                 "owner confirmed the products are still right",
                                 article.content_hash)
        changes += _changes(dismissed, "dismissed")
    still = []
    if obsolete and not confirm_products:
        kinds = "/".join(sorted({f.kind for f in obsolete}))
        still.append(f"{kinds} stays open: confirm the products are still right to close it")
    reports = sorted({str(i.flag.evidence.get("key", "")) for i in active
                      if i.flag.kind == REPORTED})
    if reports:
        still.append(f"agents' {'/'.join(reports)} report stays open: resolve it with a note")
    others = sorted({i.flag.kind for i in active if i.flag.kind not in SETTLED_BY_REVIEW
                     and i.flag.kind not in (*PRODUCT_KINDS, REPORTED)})
    if others:
        still.append(f"{', '.join(others)} stay open: a review date does not settle them")
    return ActionResult(article.id, "reviewed", by, changes, tuple(still), reviewed_on=as_of)


def _reassign(state: Connection, article: Article, owner: str, by: str) -> ActionResult:
    if not owner or len(owner) > 200:
        raise KbError("reassign needs the new owner (1-200 characters)")
    at = now_iso()
    with state:
        state.execute("INSERT INTO owner_assignments VALUES (?,?,?,?) ON CONFLICT (article_id) "
                      "DO UPDATE SET owner = excluded.owner, by = excluded.by, at = excluded.at",
                      (article.id, owner, by, at))
        state.execute("INSERT INTO owner_events (article_id, from_owner, to_owner, by, at) "
                      "VALUES (?,?,?,?,?)", (article.id, article.owner, owner, by, at))
    return ActionResult(article.id, "reassign", by, owner=owner)
