"""Fixtures for the ingestion tests: a clean environment, a copy of the test KB, real indexes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.env import clean_kb_env
from tests.ingest.helpers import TEST_KB, Index, copy_tree


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No KB_* variable or kb.toml of the developer's leaks into a test."""
    clean_kb_env(monkeypatch)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A writable copy of tests/data/ingest/kb (six good articles and a README)."""
    return copy_tree(TEST_KB, tmp_path / "kb")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    """A fresh index (catalog + Chroma + BM25 dir) under tmp_path/data."""
    handle = Index.open(tmp_path / "data")
    yield handle
    handle.conn.close()
