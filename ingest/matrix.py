"""All chunk vectors as one matrix, aligned with the BM25 index's chunk order.

Chroma is the store of record for vectors, but its metadata-filtered query (needed to apply
permissions before ranking) takes 170-260 ms on the 46k-chunk corpus here, against ~3 ms for
an exact matrix product with the same filter as a mask. So each ingest writes the vectors in
BM25 order to ``vectors.npz`` (one file with its fingerprint, replaced atomically) and
retrieval loads it.

The file is ``np.savez``'s uncompressed zip, so the ``matrix.npy`` member is a plain run of
bytes inside it: :func:`load` memory-maps it read-only at its offset rather than reading it.
Several server workers on one machine then share one copy of the vectors in the page cache,
and a file written by earlier versions (the same writer) is mapped as it is.
"""

from __future__ import annotations

import logging
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import KbError

log = logging.getLogger(__name__)
#: what numpy raises on a truncated, overwritten or foreign ``.npz``
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, struct.error)
#: a zip local file header: signature, then name and extra-field lengths at bytes 26-29
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}


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
    np.savez(tmp, matrix=np.ascontiguousarray(matrix, dtype=np.float32),
             fingerprint=np.array(fingerprint))
    os.replace(tmp, path)


def load(path: Path, fingerprint: str, rows: int) -> np.ndarray | None:
    """The saved matrix, memory-mapped read-only, if it belongs to this fingerprint and size;
    None otherwise (also when the file is unreadable: it is derived data, rebuilt from
    Chroma). A compressed file (not written by kb) is read into memory instead."""
    if not path.exists():
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            if _fingerprint(archive) != fingerprint:
                return None
            member = archive.getinfo("matrix.npy")
            if member.compress_type == zipfile.ZIP_STORED:
                found: np.ndarray = _map_member(path, member)
            else:
                with archive.open(member) as raw:
                    found = np.lib.format.read_array(raw)
    except _UNREADABLE as exc:
        log.warning("%s is unreadable (%s): rebuilding it from Chroma", path, type(exc).__name__)
        return None
    return found if found.ndim == 2 and found.shape[0] == rows else None


def _fingerprint(archive: zipfile.ZipFile) -> str:
    with archive.open("fingerprint.npy") as raw:
        return str(np.lib.format.read_array(raw))


def _map_member(path: Path, member: zipfile.ZipInfo) -> np.ndarray:
    """The ``.npy`` array stored uncompressed as ``member`` of the zip at ``path``, mapped."""
    with path.open("rb") as fh:
        fh.seek(member.header_offset)
        signature, name_len, extra_len = _LOCAL_HEADER.unpack(fh.read(_LOCAL_HEADER.size))
        if signature != b"PK\x03\x04":
            raise ValueError("not a zip local file header")
        start = fh.seek(name_len + extra_len, os.SEEK_CUR)
        version = np.lib.format.read_magic(fh)
        read_header = _HEADER_READERS.get(version)
        if read_header is None:
            raise ValueError(f"matrix.npy is in .npy format {version}")
        shape, fortran, dtype = read_header(fh)
        offset = fh.tell()
    if dtype != np.float32 or len(shape) != 2:
        raise ValueError(f"matrix.npy holds {dtype} {shape}, not a float32 matrix")
    if offset + shape[0] * shape[1] * dtype.itemsize > start + member.file_size:
        raise ValueError("matrix.npy is shorter than its header says")
    _check_crc(path, start, member)
    if not shape[0] * shape[1]:
        return np.zeros(shape, dtype=np.float32)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                     order="F" if fortran else "C")


def _check_crc(path: Path, start: int, member: zipfile.ZipInfo) -> None:
    """Raise ValueError when the member's bytes do not match the zip's CRC (a damaged file);
    reading it once also brings it into the page cache, shared by every worker."""
    crc, left = 0, member.file_size
    with path.open("rb") as fh:
        fh.seek(start)
        while left > 0:
            block = fh.read(min(left, 1 << 24))
            if not block:
                break
            crc, left = zlib.crc32(block, crc), left - len(block)
    if crc != member.CRC:
        raise ValueError("matrix.npy does not match its CRC")


def stored_fingerprint(path: Path) -> str | None:
    """The fingerprint a saved matrix was built for, without reading the matrix; None when
    the file is missing or unreadable."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _fingerprint(archive)
    except _UNREADABLE:
        return None


def rebuild(collection: Any, ids: list[str], path: Path, fingerprint: str) -> np.ndarray:
    """Fetch the vectors from Chroma, save them, and return the saved file mapped."""
    save(path, fetch(collection, ids), fingerprint)
    mapped = load(path, fingerprint, len(ids))
    if mapped is None:
        raise KbError(f"{path}: just written, but it cannot be read back")
    return mapped
