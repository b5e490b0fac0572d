"""Compute, store and reconcile flags for a whole index; and read them back "as of" a date.

Flags are computed for every article after each ingest (duplicates and links need the whole
KB) and stored in the index catalog as of the ingest's reference date. The date rules (stale,
expiring, expired, obsolete, partly-obsolete) are cheap, so :func:`current_flags` recomputes
them for the ``as_of`` asked for; the other kinds are read as stored.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from core.store import catalog
from core.store.catalog import load_flags, save_flags
from core.store.db import Connection
from core.store.flag_states import ReconcileSummary, reconcile, reviewed_overrides
from core.types import Article, Flag
from ingest.quality.dates import bulk_review_dates, date_flags
from ingest.quality.duplicates import article_vectors
from ingest.quality.links import anchor_ids
from ingest.quality.policy import DATE_KINDS, KINDS, QualityPolicy
from ingest.quality.rules import kb_flags, sort_flags
from ingest.run import Root, source_file, stored_roots


@dataclass(frozen=True)
class FlagRun:
    flags: tuple[Flag, ...]
    reconciled: ReconcileSummary
    seconds: float

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for flag in self.flags:
            out[flag.kind] = out.get(flag.kind, 0) + 1
        return dict(sorted(out.items()))


def declared_anchors(roots: list[Root], articles: list[Article]) -> dict[str, set[str]]:
    """Anchors that the Markdown and HTML sources declare, read from the ingested folders."""
    found: dict[str, set[str]] = {}
    for article in articles:
        path = source_file(roots, article.path)
        if article.fmt not in ("md", "html") or path is None:
            continue
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError:
            continue
        found[article.path] = anchor_ids(text)
    return found


def refresh_flags(conn: sqlite3.Connection, collection: Any, state: Connection,
                  policy: QualityPolicy, as_of: date) -> FlagRun:
    """After an ingest: flags for all articles, stored in the catalog, states reconciled."""
    started = time.monotonic()
    overrides = reviewed_overrides(state)
    catalog.apply_reviewed(conn, overrides)
    key = hashlib.sha256(repr((catalog.get_kv(conn, "fingerprint"), as_of.isoformat(), policy,
                               sorted(overrides.items()))).encode()).hexdigest()
    if catalog.get_kv(conn, "flags_key") == key:  # same articles, date and policy: same flags
        return FlagRun(tuple(load_flags(conn)), ReconcileSummary(), time.monotonic() - started)
    articles = list(catalog.iter_articles(conn))
    vectors = article_vectors(collection, catalog.chunk_articles(conn))
    anchors = declared_anchors(stored_roots(conn), articles)
    flags = kb_flags(articles, vectors, policy, as_of, anchors)
    save_flags(conn, flags, as_of)
    summary = reconcile(state, flags, {a.id: a.content_hash for a in articles}, kinds=KINDS)
    with catalog.transaction(conn):
        catalog.set_kv(conn, "flags_key", key)
    return FlagRun(tuple(flags), summary, time.monotonic() - started)


def current_flags(conn: sqlite3.Connection, policy: QualityPolicy, as_of: date,
                  articles: list[Article] | None = None) -> list[Flag]:
    """Stored flags, with the date kinds recomputed as of ``as_of`` (so they also reflect
    articles marked reviewed since the ingest)."""
    kept = [f for f in load_flags(conn) if f.kind not in DATE_KINDS]
    bulk = bulk_review_dates((f.last_reviewed for f in catalog.article_facts(conn)), policy)
    for article in articles if articles is not None else catalog.iter_articles(conn):
        kept += date_flags(article, policy, as_of, bulk)
    return sort_flags(kept)
