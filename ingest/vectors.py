"""The Chroma collection that holds chunk vectors, with the metadata retrieval filters on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.errors import KbError
from core.types import Article, Chunk

COLLECTION = "kb_chunks"
NO_EXPIRY = 99991231


def open_collection(chroma_dir: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    try:
        client = chromadb.PersistentClient(path=str(chroma_dir),
                                           settings=ChromaSettings(anonymized_telemetry=False))
        return client.get_or_create_collection(COLLECTION, embedding_function=None,
                                               metadata={"hnsw:space": "cosine"})
    except Exception as exc:  # chromadb raises its own, sqlite3's and Rust's errors here
        raise KbError(f"{chroma_dir}: the vector store cannot be read ({type(exc).__name__}: "
                      f"{exc}); restore from backup (kb restore) or rebuild with kb ingest into "
                      "a new --data-dir") from None


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
