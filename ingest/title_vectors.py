"""One embedding per article title, for the re-ranker's ``title_cos`` feature.

A question phrased like an article's title ("Get calendar diagnostic logs for Exchange Online
mailboxes") matches that title's embedding more closely than any chunk of a sibling article
("Analyze calendar diagnostic logs ..."), whose chunks may score as high. ``kb ingest``
writes ``titles.npz`` beside ``vectors.npz``: the vectors in the catalog's article order
(:func:`core.store.catalog.article_facts`), keyed by a hash of the titles, and the titles
themselves, so that the next ingest embeds only new or changed titles. The file is derived:
when it is missing or does not match the catalog's titles (an index written before it
existed, a hand-copied index), retrieval embeds the titles in memory once
(:func:`embed_now`) and says so in the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingest import matrix
from ingest.embed import Embedder

log = logging.getLogger(__name__)


def key(titles: Sequence[str]) -> str:
    """What a stored file must match: the titles, in order."""
    return hashlib.sha256("\n".join(titles).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def load(path: Path, titles: Sequence[str]) -> np.ndarray | None:
    """The stored vectors (memory-mapped) when they belong to exactly these titles."""
    return matrix.load(path, key(titles), len(titles))


def _stored(path: Path) -> dict[str, np.ndarray]:
    """``{title: vector}`` of a stored file (empty when there is none or it is unreadable)."""
    try:
        with np.load(path, allow_pickle=False) as found:
            names, vectors = json.loads(str(found["titles"])), found["matrix"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return {}
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) \
            or vectors.ndim != 2 or len(names) != vectors.shape[0]:
        return {}
    return dict(zip(names, vectors, strict=True))


def embed(titles: Sequence[str], embedder: Embedder,
          known: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The titles' vectors (float32, one row each); ``known`` ones are not embedded again."""
    known = dict(known or {})
    new = sorted({t for t in titles if t not in known})
    known.update(zip(new, np.asarray(embedder.embed(new), dtype=np.float32), strict=True))
    width = next((len(v) for v in known.values()), 0)
    if not titles:
        return np.zeros((0, width), dtype=np.float32)
    return np.asarray([known[t] for t in titles], dtype=np.float32)


def refresh(path: Path, titles: Sequence[str], embedder: Embedder) -> None:
    """Make ``path`` hold the vectors of ``titles``, embedding only titles it lacks."""
    if load(path, titles) is not None:
        return
    known = _stored(path)
    if known and len(next(iter(known.values()))) != embedder.dim:
        known = {}  # written by another model
    vectors = embed(titles, embedder, known)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, matrix=vectors, fingerprint=np.array(key(titles)),
             titles=np.array(json.dumps(list(titles))))
    os.replace(tmp, path)


def embed_now(path: Path, titles: Sequence[str], embedder: Embedder) -> np.ndarray:
    """The titles embedded in memory, when ``path`` is missing or does not fit (logged)."""
    log.warning("%s is missing or does not match the catalog: embedding %d titles now "
                "(the next 'kb ingest' stores them)", path, len(titles))
    return embed(titles, embedder)
