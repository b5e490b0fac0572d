"""Fixtures shared by every test package: where inputs live, and the two embedders.

Unit tests use the deterministic :class:`~ingest.embed.HashingEmbedder`; integration tests
(``@pytest.mark.integration``) use the real model through the session-scoped ``real_embedder``
(loading it takes several seconds, so it is loaded once per run).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ingest.embed import HashingEmbedder

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: the real corpus lives beside the repo, in the shared folder; never copied into the repo
CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora" / "ms-support"


@pytest.fixture
def hashing_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def real_embedder() -> Any:
    """all-MiniLM-L6-v2 from the packaged files, loaded once for the whole session."""
    from ingest.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """``../shared/corpora/ms-support``; skips the test when the shared corpus is not there."""
    if not (CORPUS / "manifest.jsonl").is_file():
        pytest.skip(f"the ms-support corpus is not at {CORPUS.resolve()} "
                    "(it lives in the shared folder beside the repo)")
    return CORPUS.resolve()


@pytest.fixture(scope="session")
def corpus_manifest(corpus_dir: Path) -> list[dict[str, Any]]:
    """The corpus manifest rows (``article_path``, ``title``, ``ms_date``, ``n_words``...)."""
    with (corpus_dir / "manifest.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
