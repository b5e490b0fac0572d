"""The "naive LangChain" baseline: the tutorial recipe a team would build first.

RecursiveCharacterTextSplitter (1000 characters, 200 overlap) over each article's text, the
same embedding model, a Chroma collection of its own, top 4 chunks by similarity. Its
collection is built once per index and cached beside it (``naive-chroma/``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import numpy as np

from assistant.index import SearchIndex
from core.store import catalog
from evals.systems import Run, System
from ingest.embed import Embedder


def _collection(paths: Any, index: SearchIndex, embedder: Embedder, as_of: date) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    client = chromadb.PersistentClient(path=str(paths.root / "naive-chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("naive", embedding_function=None,
                                                 metadata={"hnsw:space": "cosine"})
    fingerprint = f"{index.fingerprint}-{as_of.isoformat()}"
    mask = index.visible_articles(frozenset(), as_of)
    visible = {a.id for a, ok in zip(index.articles, mask, strict=True) if ok}
    if (collection.metadata or {}).get("fingerprint") == fingerprint and collection.count():
        return collection
    client.delete_collection("naive")
    collection = client.create_collection("naive", embedding_function=None,
                                          metadata={"hnsw:space": "cosine",
                                                    "fingerprint": fingerprint})
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    ids: list[str] = []
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    for article in catalog.iter_articles(index.conn):
        if article.id not in visible:
            continue  # what an asker without groups may see, as for kb
        for n, piece in enumerate(splitter.split_text(f"{article.title}\n{article.text}")):
            ids.append(f"{article.id}#{n}")
            texts.append(piece)
            metas.append({"article_id": article.id})
    for start in range(0, len(ids), 512):
        part = slice(start, start + 512)
        collection.add(ids=ids[part], documents=texts[part], metadatas=cast(Any, metas[part]),
                       embeddings=np.asarray(embedder.embed(texts[part]), dtype=np.float32))
    return collection


def naive_system(paths: Any, index: SearchIndex, embedder: Embedder, as_of: date) -> System:
    collection = _collection(paths, index, embedder, as_of)

    def run(question: str) -> Run:
        got = collection.query(query_embeddings=embedder.embed([question]), n_results=4,
                               include=["distances", "metadatas"])
        ranked: list[str] = []
        for meta in got["metadatas"][0]:
            if meta["article_id"] not in ranked:
                ranked.append(meta["article_id"])
        top = 1.0 - got["distances"][0][0] if got["distances"][0] else 0.0
        return Run(ranked, top)

    return run
