"""The index catalog (``catalog.sqlite``): kb's source of truth for articles, chunks and flags.

The only code that runs SQL on those tables; everything else calls the typed readers and
writers here. Chroma holds the vectors; a chunk counts only if the catalog lists it, so a run
killed between the two stores never shows a half-written article. Schema changes are numbered
migrations, applied when :func:`connect` opens the file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from core.store.db import Migration, now_iso, open_db
from core.types import Article, ArticleFacts, Block, Chunk, Flag

#: "kbct": marks an index catalog
APP_ID = 0x6B626374

MIGRATIONS: list[Migration] = [
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
    # 2: quality flags computed at ingest; their review states live in the state DB
    """
    CREATE TABLE IF NOT EXISTS flags (
        article_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
        severity TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL,
        PRIMARY KEY (article_id, kind, key));
    CREATE INDEX IF NOT EXISTS flags_kind ON flags(kind, severity);
    """,
]


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the catalog and run pending migrations."""
    return open_db(path, MIGRATIONS, APP_ID)


def open_readonly(path: Path) -> sqlite3.Connection:
    """Read a catalog another process may be writing, without migrating or locking it."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    conn.row_factory = sqlite3.Row
    return conn


def copy(src: Path, dst: Path) -> None:
    """Copy a catalog consistently (SQLite's online backup), e.g. into a staging index."""
    source, target = sqlite3.connect(str(src)), sqlite3.connect(str(dst))
    try:
        with target:
            source.backup(target)
    finally:
        source.close()
        target.close()


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    with conn:
        yield conn


def _d(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _block_json(blocks: Iterable[Block]) -> str:
    return json.dumps([[b.kind, b.text, list(b.section), b.level, b.ordered, list(b.links),
                        b.lang, b.number] for b in blocks])


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
    # rows written before blocks had a language and a source number hold six fields
    blocks = tuple(Block(k, t, tuple(s), lv, o, tuple(ln), *rest)
                   for k, t, s, lv, o, ln, *rest in json.loads(row["blocks"]))
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


def kv_items(conn: sqlite3.Connection, prefix: str) -> dict[str, str]:
    """Every kv entry whose key starts with ``prefix`` (e.g. ``source:``), by key."""
    rows = conn.execute("SELECT key, value FROM kv WHERE substr(key, 1, ?) = ? ORDER BY key",
                        (len(prefix), prefix))
    return {r[0]: r[1] for r in rows}


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {"articles": conn.execute("SELECT count(*) FROM articles").fetchone()[0],
            "chunks": conn.execute("SELECT count(*) FROM chunks").fetchone()[0]}


def article_ids(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY id")]


def articles_without_chunks(conn: sqlite3.Connection) -> list[str]:
    """Ids of articles the catalog lists with no chunk (never true after a whole write)."""
    return [r[0] for r in conn.execute("SELECT id FROM articles a WHERE NOT EXISTS "
                                       "(SELECT 1 FROM chunks c WHERE c.article_id = a.id)")]


def article_paths(conn: sqlite3.Connection) -> dict[str, str]:
    """``{article_id: path}`` of every stored article."""
    return {r[0]: r[1] for r in conn.execute("SELECT id, path FROM articles")}


def article_groups(conn: sqlite3.Connection) -> frozenset[str]:
    """Every permission group any article names (lower case)."""
    return frozenset(g.lower() for (groups,) in conn.execute("SELECT groups FROM articles")
                     for g in json.loads(groups))


def _facts(row: sqlite3.Row) -> ArticleFacts:
    return ArticleFacts(
        id=row["id"], title=row["title"], groups=frozenset(json.loads(row["groups"])),
        products=tuple(json.loads(row["products"])), category=row["category"] or "",
        status=row["status"],
        last_reviewed=date.fromisoformat(row["last_reviewed"]) if row["last_reviewed"] else None,
        valid_until=date.fromisoformat(row["valid_until"]) if row["valid_until"] else None,
        url=row["url"], owner=row["owner"],
        meta_problems=tuple(json.loads(row["meta_problems"])))


def article_facts(conn: sqlite3.Connection) -> list[ArticleFacts]:
    """Every article's facts (no text), ordered by id."""
    return [_facts(r) for r in conn.execute(
        "SELECT id, title, groups, products, category, status, last_reviewed, valid_until, "
        "url, owner, meta_problems FROM articles ORDER BY id")]


ChunkRow = tuple[str, int, tuple[str, ...], str, str]


def chunk_rows(conn: sqlite3.Connection) -> dict[str, ChunkRow]:
    """``{chunk_id: (article_id, position, section path, anchor, text)}`` for every chunk."""
    return {r[0]: (r[1], r[2], tuple(json.loads(r[3])), r[4], r[5]) for r in conn.execute(
        "SELECT id, article_id, position, section, anchor, text FROM chunks")}


def chunks_of(conn: sqlite3.Connection, article_id: str) -> list[tuple[str, ChunkRow]]:
    """One article's chunks in reading order, as ``(chunk_id, row)``."""
    rows = conn.execute("SELECT id, article_id, position, section, anchor, text FROM chunks "
                        "WHERE article_id = ? ORDER BY position", (article_id,))
    return [(r[0], (r[1], r[2], tuple(json.loads(r[3])), r[4], r[5])) for r in rows]


def article_words(conn: sqlite3.Connection) -> dict[str, int]:
    """Each article's length in words (of its indexed chunk text)."""
    words: dict[str, int] = {}
    for article_id, text in conn.execute("SELECT article_id, text FROM chunks"):
        words[article_id] = words.get(article_id, 0) + len(text.split())
    return words


def chunk_articles(conn: sqlite3.Connection) -> dict[str, str]:
    """``{chunk_id: article_id}``."""
    return dict(conn.execute("SELECT id, article_id FROM chunks").fetchall())


def lexical_documents(conn: sqlite3.Connection) -> list[tuple[str, str, tuple[str, ...], str]]:
    """``(chunk_id, article title, section path, text)`` in article and reading order: what
    BM25 indexes and what the embedder embeds."""
    rows = conn.execute("SELECT c.id, a.title, c.section, c.text FROM chunks c JOIN articles a "
                        "ON a.id = c.article_id ORDER BY c.article_id, c.position")
    return [(r[0], r[1], tuple(json.loads(r[2])), r[3]) for r in rows]


#: bumped whenever "marked reviewed" dates change the catalog: every ``kb serve`` process
#: reading this index compares it on each request and refreshes its article facts
REVIEWED_MARK = "reviewed_mark"


def apply_reviewed(conn: sqlite3.Connection, overrides: dict[str, date]) -> int:
    """Write "marked reviewed" dates into the catalog where newer than the article's own."""
    changed = 0
    with transaction(conn):
        for article_id, day in overrides.items():
            cur = conn.execute("UPDATE articles SET last_reviewed = ? WHERE id = ? AND "
                               "(last_reviewed IS NULL OR last_reviewed < ?)",
                               (day.isoformat(), article_id, day.isoformat()))
            changed += cur.rowcount
        if changed:
            set_kv(conn, REVIEWED_MARK, int(get_kv(conn, REVIEWED_MARK, "0") or 0) + 1)
    return changed


def change_marks(conn: sqlite3.Connection) -> tuple[str, str]:
    """(index fingerprint, reviewed mark), in one read: what a server checks per request."""
    rows = dict(conn.execute("SELECT key, value FROM kv WHERE key IN ('fingerprint', ?)",
                             (REVIEWED_MARK,)).fetchall())
    return rows.get("fingerprint", "") or "", rows.get(REVIEWED_MARK, "") or ""


def save_flags(conn: sqlite3.Connection, flags: Iterable[Flag], as_of: date) -> None:
    """Replace every stored flag in one transaction, noting the reference date used."""
    rows = [(f.article_id, f.kind, str(f.evidence.get("key", "")), f.severity, f.reason,
             json.dumps(f.evidence, default=str, sort_keys=True)) for f in flags]
    with transaction(conn):
        conn.execute("DELETE FROM flags")
        conn.executemany("INSERT OR REPLACE INTO flags VALUES (?,?,?,?,?,?)", rows)
        set_kv(conn, "flags_as_of", as_of.isoformat())
        set_kv(conn, "flags_computed_at", now_iso())


def load_flags(conn: sqlite3.Connection, kinds: Iterable[str] | None = None) -> list[Flag]:
    """Stored flags, optionally of some kinds only."""
    rows = conn.execute("SELECT article_id, kind, severity, reason, evidence FROM flags "
                        "ORDER BY article_id, kind, key").fetchall()
    wanted = set(kinds) if kinds is not None else None
    return [Flag(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows
            if wanted is None or r[1] in wanted]
