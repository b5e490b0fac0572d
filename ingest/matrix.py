"""All chunk vectors as one in-memory matrix, aligned with the BM25 index's chunk order.

Chroma is the store of record for vectors, but its metadata-filtered query (needed to apply
permissions before ranking) takes 170-260 ms on the 46k-chunk corpus here, against ~3 ms for
an exact matrix product with the same filter as a mask. So each ingest writes the vectors in
BM25 order to ``vectors.npz`` (one file, replaced atomically) and retrieval loads it.
"""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import KbError

log = logging.getLogger(__name__)
#: what numpy raises on a truncated, overwritten or foreign ``.npz``
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


def fetch(collection: Any, ids: list[str]) -> np.ndarray:
    """The vectors of ``ids`` from Chroma, in that order (float32, one row per id)."""
    rows: dict[str, Any] = {}
    try:
        for start in range(0, len(ids), 5000):
            got = collection.get(ids=ids[start:start + 5000], include=["embeddings"])
            rows.update(zip(got["ids"], got["embeddings"], strict=True))
    except Exception as exc:
        where = getattr(collection, "chroma_dir", None) or "the index's chroma/ folder"
        raise KbError(f"{where}: the vector store cannot be read ({type(exc).__name__}: "
                      f"{exc}); restore from backup (kb restore) or rebuild with kb ingest "
                      "into a new --data-dir") from exc
    missing = [i for i in ids if i not in rows]
    if missing:
        raise ValueError(f"{len(missing)} chunks have no vector in Chroma (e.g. {missing[0]})")
    if not ids:
        return np.zeros((0, 0), dtype=np.float32)
    return np.asarray([rows[i] for i in ids], dtype=np.float32)


def save(path: Path, matrix: np.ndarray, fingerprint: str) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, matrix=matrix, fingerprint=np.array(fingerprint))
    os.replace(tmp, path)


def load(path: Path, fingerprint: str, rows: int) -> np.ndarray | None:
    """The saved matrix if it belongs to this fingerprint and size; None otherwise (also when
    the file is unreadable: it is derived data, rebuilt from Chroma)."""
    if not path.exists():
        return None
    try:
        with np.load(path) as data:
            if str(data["fingerprint"]) != fingerprint or data["matrix"].shape[0] != rows:
                return None
            return np.ascontiguousarray(data["matrix"])
    except _UNREADABLE as exc:
        log.warning("%s is unreadable (%s): rebuilding it from Chroma", path, type(exc).__name__)
        return None


def stored_fingerprint(path: Path) -> str | None:
    """The fingerprint a saved matrix was built for, without reading the matrix; None when
    the file is missing or unreadable."""
    try:
        with np.load(path) as data:
            return str(data["fingerprint"])
    except _UNREADABLE:
        return None


def rebuild(collection: Any, ids: list[str], path: Path, fingerprint: str) -> np.ndarray:
    matrix = fetch(collection, ids)
    save(path, matrix, fingerprint)
    return matrix
