"""Where an index lives under the data dir, and which one is live.

``DATA_DIR/indexes/<name>/`` holds one index (``catalog.sqlite``, ``chroma/``, ``bm25/``);
``DATA_DIR/LIVE`` names the live one and ``DATA_DIR/STAGE`` a staging one. Switching is an
atomic rename of a one-line file, so readers see the old index or the new one, never a mix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class IndexPaths:
    root: Path

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.sqlite"

    @property
    def chroma(self) -> Path:
        return self.root / "chroma"

    @property
    def bm25(self) -> Path:
        return self.root / "bm25"

    @property
    def matrix(self) -> Path:
        return self.root / "vectors.npz"

    @property
    def titles(self) -> Path:
        """One vector per article title (``ingest/title_vectors.py``)."""
        return self.root / "titles.npz"

    @property
    def calibration(self) -> Path:
        """This KB's own calibration (``kb calibrate``), used instead of the shipped one."""
        return self.root / "calibration.json"


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents with mode 0700 (articles, answers and users
    live under the data dir); folders that exist are left as they are."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask
    return path


def read_pointer(data_dir: Path, name: str) -> str | None:
    path = data_dir / name
    return path.read_text().strip() or None if path.exists() else None


def write_pointer(data_dir: Path, name: str, value: str | None) -> None:
    path = data_dir / name
    if value is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{name}.tmp")
    tmp.write_text(value + "\n")
    os.replace(tmp, path)


def live_index(data_dir: Path, create: bool = True) -> IndexPaths:
    name = read_pointer(data_dir, "LIVE")
    if name is None:
        name = "index-1"
        if create:
            private_dir(data_dir / "indexes" / name)
            write_pointer(data_dir, "LIVE", name)
    return IndexPaths(data_dir / "indexes" / name)


def state_db(data_dir: Path) -> Path:
    """Review states, feedback, gaps and users: kept across index switches."""
    return data_dir / "state.sqlite"
