"""The Chroma collection that holds chunk vectors, with the metadata retrieval filters on.

By default each index keeps its vectors in an embedded store (``indexes/index-N/chroma/``).
With a server (``KB_CHROMA_URL``, a ``chroma run``) each index dir has a collection of its
own there, named in ``chroma/server.json`` together with the server's URL and the index dir
the collection belongs to. A copy of an index dir (a staging index, a restored backup) carries
that file but is not its owner, so it gets a collection of its own, filled from its own
``vectors.npz`` when that describes its catalog, else from the collection it was copied from.
An index made on a server stays on it: commands given no URL use the recorded one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.errors import KbError
from core.store import catalog
from core.types import Article, Chunk

log = logging.getLogger(__name__)
COLLECTION = "kb_chunks"
NO_EXPIRY = 99991231
SERVER_RECORD = "server.json"
_SPACE = {"hnsw:space": "cosine"}


def open_collection(chroma_dir: Path, server_url: str | None = None) -> Any:
    """The collection of the index whose ``chroma/`` folder is ``chroma_dir``: on the Chroma
    server at ``server_url`` (or the one the index was made on), else embedded."""
    record = read_record(chroma_dir)
    url = server_url or (record or {}).get("url")
    if url:
        return _open_on_server(chroma_dir, url, record)
    return _open_embedded(chroma_dir)


def _open_embedded(chroma_dir: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    try:
        client = chromadb.PersistentClient(path=str(chroma_dir),
                                           settings=ChromaSettings(anonymized_telemetry=False))
        return client.get_or_create_collection(COLLECTION, embedding_function=None,
                                               metadata=_SPACE)
    except Exception as exc:  # chromadb raises its own, sqlite3's and Rust's errors here
        raise KbError(f"{chroma_dir}: the vector store cannot be read ({type(exc).__name__}: "
                      f"{exc}); restore from backup (kb restore) or rebuild with kb ingest into "
                      "a new --data-dir") from None


def read_record(chroma_dir: Path) -> dict[str, Any] | None:
    """``chroma/server.json`` (``{url, collection, index_dir}``); None for an embedded index."""
    try:
        return dict(json.loads((chroma_dir / SERVER_RECORD).read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise KbError(f"{chroma_dir / SERVER_RECORD}: unreadable ({exc}); it names this "
                      "index's collection on the Chroma server") from None


def disown(chroma_dir: Path) -> None:
    """Mark a copied index dir as not the owner of the collection its record names (a
    restore into the data dir the backup came from): it then gets a collection of its own."""
    record = read_record(chroma_dir)
    if record is not None:
        _write_record(chroma_dir, {**record, "index_dir": None})


def collection_name(index_dir: Path) -> str:
    """A new index dir's collection: its name plus a hash of this host and its absolute path
    (``kb-index-2-3f9c0a7e5b21d4c8``), so staging indexes and data dirs never share one."""
    where = f"{socket.gethostname()}\0{index_dir.resolve()}"
    return f"kb-{index_dir.name}-{hashlib.sha256(where.encode()).hexdigest()[:16]}"


def _write_record(chroma_dir: Path, record: dict[str, Any]) -> None:
    chroma_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = chroma_dir / f".{SERVER_RECORD}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, chroma_dir / SERVER_RECORD)


def http_client(url: str) -> Any:
    """A client of the Chroma server at ``url`` (``http://HOST:PORT``), telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KbError(f"KB_CHROMA_URL={url!r}: expected http://HOST:PORT")
    try:
        return chromadb.HttpClient(host=parts.hostname,
                                   port=parts.port or (443 if parts.scheme == "https" else 8000),
                                   ssl=parts.scheme == "https",
                                   settings=ChromaSettings(anonymized_telemetry=False))
    except Exception as exc:  # connection refused, timeouts, a server of another version
        raise KbError(f"the Chroma server at {url} cannot be reached ({type(exc).__name__}: "
                      f"{exc}); start it (chroma run --path DIR --port N) or fix "
                      "KB_CHROMA_URL") from None


def _open_on_server(chroma_dir: Path, url: str, record: dict[str, Any] | None) -> Any:
    index_dir = chroma_dir.parent
    owner = str(index_dir.resolve())
    ours = record is not None and record.get("index_dir") == owner
    name = record["collection"] if ours and record else collection_name(index_dir)
    client = http_client(url)
    try:
        collection = client.get_or_create_collection(name, embedding_function=None,
                                                      metadata=_SPACE)
        if not ours or collection.count() == 0:
            source = record["collection"] if record and not ours else None
            _fill(client, collection, index_dir, source)
    except KbError:
        raise
    except Exception as exc:
        raise KbError(f"the Chroma server at {url}: collection {name} of {index_dir} cannot be "
                      f"used ({type(exc).__name__}: {exc})") from None
    if not ours or record is None or record.get("url") != url:
        _write_record(chroma_dir, {"url": url, "collection": name, "index_dir": owner})
    return collection


def _fill(client: Any, collection: Any, index_dir: Path, source: str | None) -> None:
    """Give a new (or emptied) collection the vectors of the index's catalog: from its own
    ``vectors.npz`` when that matches the catalog, else from the collection it was copied
    from, else from the index's embedded store (an index made before KB_CHROMA_URL was set).
    With none of them, the collection stays as it is (the catalog may be empty)."""
    if _fill_from_matrix(collection, index_dir):
        return
    if source is not None and source != collection.name:
        try:
            _copy_all(client.get_collection(source), collection)
            return
        except Exception:  # noqa: BLE001 - chromadb's NotFoundError: the origin is gone
            log.warning("collection %s (copied from) is not on the server", source)
    if (index_dir / "chroma" / "chroma.sqlite3").exists():
        _copy_all(_open_embedded(index_dir / "chroma"), collection)


def _copy_all(origin: Any, collection: Any) -> None:
    offset, page = 0, 1000
    while True:
        got = origin.get(include=["embeddings", "documents", "metadatas"], limit=page,
                         offset=offset)
        if got["ids"]:
            collection.upsert(ids=got["ids"], embeddings=got["embeddings"],
                              documents=got["documents"], metadatas=got["metadatas"])
        if len(got["ids"]) < page:
            log.info("copied %d vectors into %s", offset + len(got["ids"]), collection.name)
            return
        offset += page


def _fill_from_matrix(collection: Any, index_dir: Path) -> bool:
    """Upsert every chunk of the catalog with its row of ``vectors.npz``; False when the file
    or the catalog is missing or the file does not describe the catalog."""
    from ingest import lexical, matrix

    catalog_path, bm25_dir = index_dir / "catalog.sqlite", index_dir / "bm25"
    if not catalog_path.exists() or not (bm25_dir / "ids.json").exists():
        return False
    conn = catalog.open_readonly(catalog_path)
    try:
        ids = lexical.load_ids(bm25_dir)
        rows = catalog.chunk_rows(conn)
        fingerprint = catalog.get_kv(conn, "fingerprint") or ""
        if not ids or set(ids) != set(rows):
            return False
        found = matrix.load(index_dir / "vectors.npz", fingerprint, len(ids))
        if found is None:
            return False
        articles = {a.id: a for a in catalog.iter_articles(conn)}
    finally:
        conn.close()
    items = []
    for cid, vector in zip(ids, found.tolist(), strict=True):
        article_id, position, section, anchor, text = rows[cid]
        article = articles[article_id]
        items.append((article, Chunk(cid, article_id, article.title, section, position, anchor,
                                     text, ""), vector))
    upsert(collection, items)
    log.info("filled %s with %d vectors from %s", collection.name, len(items),
             index_dir / "vectors.npz")
    return True


def group_key(group: str) -> str:
    return f"g:{group.strip().lower()}"


def chunk_metadata(article: Article, chunk: Chunk) -> dict[str, Any]:
    """What Chroma filters on: visibility, status, expiry, category."""
    meta: dict[str, Any] = {
        "article_id": article.id, "position": chunk.position,
        "public": not article.groups, "status": article.status,
        "valid_until": int(article.valid_until.strftime("%Y%m%d")) if article.valid_until
        else NO_EXPIRY,
        "category": (article.category or "").lower(),
    }
    for group in article.groups:
        meta[group_key(group)] = True
    return meta


def existing_embeddings(collection: Any, texts: Mapping[str, str]) -> dict[str, list[float]]:
    """Stored vectors for ``{chunk id: embed text}`` whose stored text is still that text.

    A chunk id does not cover the article title, which is embedded too: after a title change
    the old vector must not be reused.
    """
    if not texts:
        return {}
    got = collection.get(ids=list(texts), include=["embeddings", "documents"])
    return {i: list(e) for i, e, d in zip(got["ids"], got["embeddings"], got["documents"],
                                          strict=True) if d == texts[i]}


def upsert(collection: Any, items: list[tuple[Article, Chunk, list[float]]]) -> None:
    for start in range(0, len(items), 2000):
        part = items[start:start + 2000]
        collection.upsert(ids=[c.id for _, c, _ in part], embeddings=[e for _, _, e in part],
                          documents=[c.embed_text for _, c, _ in part],
                          metadatas=[chunk_metadata(a, c) for a, c, _ in part])


def delete(collection: Any, ids: Sequence[str]) -> None:
    ids = list(ids)
    for start in range(0, len(ids), 2000):
        collection.delete(ids=ids[start:start + 2000])


def all_ids(collection: Any) -> set[str]:
    out: set[str] = set()
    offset = 0
    while True:
        got = collection.get(include=[], limit=5000, offset=offset)
        out.update(got["ids"])
        if len(got["ids"]) < 5000:
            return out
        offset += 5000
