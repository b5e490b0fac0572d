"""The searchable index held in memory for retrieval: chunk rows, article facts, BM25, vectors.

Built once at an entry point from the catalog, the Chroma collection and the saved BM25
index, then passed to :func:`assistant.retrieve.retrieve`. ``refresh`` reloads it when the
catalog's fingerprint changed (a new ingest or a promotion).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from core.paths import IndexPaths
from core.store import catalog
from core.types import ArticleFacts
from core.visibility import Audience, visible
from ingest import lexical, matrix, title_vectors, vectors
from ingest.embed import Embedder


@dataclass
class SearchIndex:
    paths: IndexPaths
    conn: sqlite3.Connection
    collection: Any
    chunk_ids: list[str]
    chunk_article: np.ndarray  # article row number per chunk
    chunk_rows: dict[str, tuple[str, int, tuple[str, ...], str, str]]
    articles: list[ArticleFacts]
    article_row: dict[str, int]
    bm25: Any
    fingerprint: str
    vectors: np.ndarray  # one row per chunk, in chunk_ids order (normalised: dot = cosine)
    chunk_row: dict[str, int] = field(default_factory=dict)
    _tokens: dict[str, frozenset[str]] = field(default_factory=dict)
    _masks: dict[tuple, np.ndarray] = field(default_factory=dict)
    #: one row per article (``articles`` order), from ``titles.npz``; see :meth:`title_matrix`
    title_vectors: np.ndarray | None = None

    def title_matrix(self, embedder: Embedder) -> np.ndarray:
        """The articles' title vectors: the stored ones, else embedded now (once)."""
        if self.title_vectors is None or self.title_vectors.shape[1] != embedder.dim:
            self.title_vectors = title_vectors.embed_now(
                self.paths.titles, [a.title for a in self.articles], embedder)
        return self.title_vectors

    @cached_property
    def article_segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Chunk rows grouped by article (``order``) and where each article's group starts
        and ends in it: per-article maxima of a chunk score with one ``np.maximum.reduceat``."""
        order = np.argsort(self.chunk_article, kind="stable")
        grouped = self.chunk_article[order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]]) if len(order) \
            else np.zeros(0, dtype=np.int64)
        return order, starts, np.r_[starts[1:], len(order)]

    def best_chunk_per_article(self, scores: np.ndarray, n: int) -> list[int]:
        """The best-scoring chunk row of each of the ``n`` articles whose best chunk scores
        highest (masked chunks at -inf are never picked)."""
        order, starts, ends = self.article_segments
        if not len(starts):
            return []
        best = np.maximum.reduceat(scores[order], starts)
        top = np.argpartition(-best, min(n, len(best) - 1))[:n]
        return [int(order[starts[g] + np.argmax(scores[order[starts[g]:ends[g]]])])
                for g in top if np.isfinite(best[g])]

    def visible_articles(self, groups: frozenset[str], as_of: date, product: str | None = None,
                         category: str | None = None, all_groups: bool = False) -> np.ndarray:
        """Boolean mask over articles a viewer may be answered from, as of a date (cached)."""
        key = (groups, as_of, product, category, all_groups)
        if key not in self._masks:
            if len(self._masks) > 256:
                self._masks.clear()
            self._masks[key] = self._visible(Audience(groups, all_groups=all_groups), as_of,
                                             product, category)
        return self._masks[key]

    def words(self, title: str, chunk_ids: list[str]) -> frozenset[str]:
        """Tokens of a title and some chunks, memoised per text (features need them per query)."""
        if len(self._tokens) > 100_000:
            self._tokens.clear()
        out = self._token_set("t:" + title, title)
        for cid in chunk_ids:
            out = out | self._token_set(cid, self.chunk_rows[cid][4])
        return out

    def _token_set(self, key: str, text: str) -> frozenset[str]:
        cached = self._tokens.get(key)
        if cached is None:
            cached = self._tokens[key] = frozenset(lexical.tokenize(text))
        return cached

    def _visible(self, audience: Audience, as_of: date, product: str | None,
                 category: str | None) -> np.ndarray:
        mask = np.zeros(len(self.articles), dtype=bool)
        for row, art in enumerate(self.articles):
            if not visible(audience, art, as_of):
                continue
            if product and not any(product.lower() in p.lower() for p in art.products):
                continue
            if category and category.lower() != art.category.lower():
                continue
            mask[row] = True
        return mask


class LazyCollection:
    """The index's Chroma collection, opened on first use. Queries read ``vectors.npz``;
    Chroma is needed only to rebuild it, so a query does not import chromadb or open it."""

    def __init__(self, chroma_dir: Path) -> None:
        self.chroma_dir = chroma_dir
        self._collection: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._collection is None:
            self._collection = vectors.open_collection(self.chroma_dir)
        return getattr(self._collection, name)


def load_index(paths: IndexPaths, conn: sqlite3.Connection, collection: Any) -> SearchIndex:
    """Read everything retrieval needs into memory (a few seconds for ~45k chunks)."""
    articles = catalog.article_facts(conn)
    article_row = {a.id: i for i, a in enumerate(articles)}
    chunk_rows = catalog.chunk_rows(conn)
    fingerprint = catalog.get_kv(conn, "fingerprint", "") or ""
    bm25, ids, bm25_fp = lexical.load(paths.bm25) if (paths.bm25 / "ids.json").exists() \
        else (None, [], "")
    if bm25_fp != fingerprint or set(ids) != set(chunk_rows):
        from ingest.run import rebuild_lexical

        fingerprint = rebuild_lexical(conn, paths.bm25)
        bm25, ids, _ = lexical.load(paths.bm25)
    chunk_article = np.array([article_row[chunk_rows[c][0]] for c in ids], dtype=np.int64)
    vectors = matrix.load(paths.matrix, fingerprint, len(ids))
    if vectors is None:
        vectors = matrix.rebuild(collection, ids, paths.matrix, fingerprint)
    return SearchIndex(paths, conn, collection, ids, chunk_article, chunk_rows, articles,
                       article_row, bm25, fingerprint, vectors,
                       {cid: i for i, cid in enumerate(ids)},
                       title_vectors=title_vectors.load(paths.titles,
                                                        [a.title for a in articles]))
