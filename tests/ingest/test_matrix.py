"""``vectors.npz``: saved once per ingest, memory-mapped read-only by every reader."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from ingest import matrix


def _vectors(rows: int = 7, dim: int = 5) -> np.ndarray:
    return np.random.default_rng(3).standard_normal((rows, dim)).astype(np.float32)


def test_a_saved_matrix_loads_memory_mapped_and_read_only(tmp_path: Path) -> None:
    path, saved = tmp_path / "vectors.npz", _vectors()
    matrix.save(path, saved, "fp1")
    loaded = matrix.load(path, "fp1", 7)
    assert isinstance(loaded, np.memmap)
    assert loaded.dtype == np.float32 and loaded.flags.c_contiguous and loaded.flags.aligned
    assert np.array_equal(loaded, saved)
    assert not loaded.flags.writeable
    assert matrix.stored_fingerprint(path) == "fp1"


def test_a_file_written_by_the_previous_version_is_mapped_as_it_is(tmp_path: Path) -> None:
    """kb up to issue 14 wrote ``np.savez(tmp, matrix=..., fingerprint=...)``: same bytes."""
    path, saved = tmp_path / "vectors.npz", _vectors(46, 384)
    np.savez(path, matrix=saved, fingerprint=np.array("old"))
    loaded = matrix.load(path, "old", 46)
    assert isinstance(loaded, np.memmap)
    assert np.array_equal(loaded, saved)


def test_a_mapped_matrix_survives_the_file_being_replaced(tmp_path: Path) -> None:
    """An ingest replaces the file (os.replace) while a server maps the old one."""
    path, first = tmp_path / "vectors.npz", _vectors()
    matrix.save(path, first, "fp1")
    loaded = matrix.load(path, "fp1", 7)
    matrix.save(path, first * 2, "fp2")
    assert np.array_equal(loaded, first)
    assert np.array_equal(matrix.load(path, "fp2", 7), first * 2)


@pytest.mark.parametrize(("fingerprint", "rows"), [("other", 7), ("fp1", 6)])
def test_another_fingerprint_or_size_is_not_loaded(tmp_path: Path, fingerprint: str,
                                                    rows: int) -> None:
    path = tmp_path / "vectors.npz"
    matrix.save(path, _vectors(), "fp1")
    assert matrix.load(path, fingerprint, rows) is None


def test_a_truncated_or_foreign_file_is_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "vectors.npz"
    matrix.save(path, _vectors(200, 50), "fp1")
    path.write_bytes(path.read_bytes()[:5000])
    assert matrix.load(path, "fp1", 200) is None
    path.write_bytes(b"not a zip")
    assert matrix.load(path, "fp1", 200) is None
    assert matrix.stored_fingerprint(path) is None


def test_a_damaged_matrix_is_not_loaded(tmp_path: Path) -> None:
    """One byte changed inside the vectors: the zip's CRC says so, and Chroma rebuilds it."""
    path = tmp_path / "vectors.npz"
    matrix.save(path, _vectors(200, 50), "fp1")
    data = bytearray(path.read_bytes())
    data[20_000] ^= 0xFF
    path.write_bytes(bytes(data))
    assert matrix.stored_fingerprint(path) == "fp1"
    assert matrix.load(path, "fp1", 200) is None


def test_a_compressed_file_is_read_into_memory(tmp_path: Path) -> None:
    path, saved = tmp_path / "vectors.npz", _vectors()
    np.savez_compressed(path, matrix=saved, fingerprint=np.array("fp1"))
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("matrix.npy").compress_type == zipfile.ZIP_DEFLATED
    loaded = matrix.load(path, "fp1", 7)
    assert loaded is not None and not isinstance(loaded, np.memmap)
    assert np.array_equal(loaded, saved)


def test_a_matrix_of_another_type_is_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "vectors.npz"
    np.savez(path, matrix=_vectors().astype(np.float64), fingerprint=np.array("fp1"))
    assert matrix.load(path, "fp1", 7) is None


def test_an_empty_matrix_loads(tmp_path: Path) -> None:
    path = tmp_path / "vectors.npz"
    matrix.save(path, np.zeros((0, 0), dtype=np.float32), "empty")
    loaded = matrix.load(path, "empty", 0)
    assert loaded is not None and loaded.shape == (0, 0)
