"""The SQLite catalog: kb's source of truth for articles, chunks, flags and everything owners do.

Chroma holds the vectors; a chunk counts only if the catalog lists it, so a run killed between
the two stores never shows a half-written article. Schema changes are numbered migrations.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ingest.types import Article, Block, Chunk

MIGRATIONS: list[str] = [
    """
    CREATE TABLE articles (
        id TEXT PRIMARY KEY, path TEXT NOT NULL, content_hash TEXT NOT NULL, title TEXT NOT NULL,
        owner TEXT, groups TEXT NOT NULL, products TEXT NOT NULL, category TEXT,
        status TEXT NOT NULL, last_reviewed TEXT, valid_until TEXT, url TEXT, tags TEXT NOT NULL,
        fmt TEXT NOT NULL, raw_meta TEXT NOT NULL, meta_problems TEXT NOT NULL,
        blocks TEXT NOT NULL, ingested_at TEXT NOT NULL);
    CREATE TABLE chunks (
        id TEXT PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        position INTEGER NOT NULL, section TEXT NOT NULL, anchor TEXT NOT NULL, text TEXT NOT NULL);
    CREATE INDEX chunks_article ON chunks(article_id, position);
    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: quality flags computed at ingest (ingest/quality/store.py); review states live in the
    # state DB (ingest/review.py)
    """
    CREATE TABLE IF NOT EXISTS flags (
        article_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
        severity TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL,
        PRIMARY KEY (article_id, kind, key));
    CREATE INDEX IF NOT EXISTS flags_kind ON flags(kind, severity);
    """,
]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the catalog and run pending migrations."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        with conn:
            conn.executescript(f"BEGIN;{script};PRAGMA user_version={number};COMMIT;")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    with conn:
        yield conn


def _d(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _block_json(blocks: Iterable[Block]) -> str:
    return json.dumps([[b.kind, b.text, list(b.section), b.level, b.ordered, list(b.links)]
                       for b in blocks])


def save_article(conn: sqlite3.Connection, article: Article, chunks: list[Chunk]) -> None:
    """Replace an article and its chunk list in one transaction."""
    conn.execute(
        "INSERT OR REPLACE INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (article.id, article.path, article.content_hash, article.title, article.owner,
         json.dumps(article.groups), json.dumps(article.products), article.category,
         article.status, _d(article.last_reviewed), _d(article.valid_until), article.url,
         json.dumps(article.tags), article.fmt, json.dumps(article.raw_meta, default=str),
         json.dumps(article.meta_problems), _block_json(article.blocks), now_iso()))
    conn.execute("DELETE FROM chunks WHERE article_id = ?", (article.id,))
    conn.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?)",
                     [(c.id, c.article_id, c.position, json.dumps(c.section), c.anchor, c.text)
                      for c in chunks])


def delete_article(conn: sqlite3.Connection, article_id: str) -> None:
    conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))


def article_hashes(conn: sqlite3.Connection) -> dict[str, tuple[str, str]]:
    """``{path: (article_id, content_hash)}`` for everything in the catalog."""
    rows = conn.execute("SELECT id, path, content_hash FROM articles")
    return {r["path"]: (r["id"], r["content_hash"]) for r in rows}


def chunk_ids(conn: sqlite3.Connection, article_id: str | None = None) -> set[str]:
    if article_id is None:
        return {r[0] for r in conn.execute("SELECT id FROM chunks")}
    return {r[0] for r in conn.execute("SELECT id FROM chunks WHERE article_id = ?",
                                       (article_id,))}


def row_to_article(row: sqlite3.Row) -> Article:
    blocks = tuple(Block(k, t, tuple(s), lv, o, tuple(ln))
                   for k, t, s, lv, o, ln in json.loads(row["blocks"]))
    return Article(
        id=row["id"], path=row["path"], title=row["title"], blocks=blocks,
        content_hash=row["content_hash"], owner=row["owner"],
        groups=tuple(json.loads(row["groups"])), products=tuple(json.loads(row["products"])),
        category=row["category"], status=row["status"],
        last_reviewed=date.fromisoformat(row["last_reviewed"]) if row["last_reviewed"] else None,
        valid_until=date.fromisoformat(row["valid_until"]) if row["valid_until"] else None,
        url=row["url"], tags=tuple(json.loads(row["tags"])), fmt=row["fmt"],
        raw_meta=json.loads(row["raw_meta"]), meta_problems=tuple(json.loads(row["meta_problems"])))


def get_article(conn: sqlite3.Connection, article_id: str) -> Article | None:
    row = conn.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
    return row_to_article(row) if row else None


def iter_articles(conn: sqlite3.Connection) -> Iterator[Article]:
    for row in conn.execute("SELECT * FROM articles ORDER BY id"):
        yield row_to_article(row)


def get_kv(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_kv(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, str(value)))


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {"articles": conn.execute("SELECT count(*) FROM articles").fetchone()[0],
            "chunks": conn.execute("SELECT count(*) FROM chunks").fetchone()[0]}
