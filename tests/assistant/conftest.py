"""Real indexes for the assistant tests.

``sample_kb`` / ``test_kb`` are built once per session with the real model (``real_embedder``
from tests/conftest.py): kb_samples/ (~50 articles) and tests/data/assistant/kb/ (12 small
articles). Tests only read them; anything that records (gaps) uses a state DB of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.service import Assistant
from tests.assistant.helpers import KB_SAMPLES, TEST_KB, open_shared, shared_index


@pytest.fixture(scope="session")
def sample_kb(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> Path:
    """Data dir with kb_samples/ ingested by ``ingest_folder`` and the real model."""
    return shared_index("kb_samples", KB_SAMPLES, tmp_path_factory, real_embedder)


@pytest.fixture(scope="session")
def sample_assistant(sample_kb: Path, real_embedder: Any) -> Assistant:
    return open_shared(sample_kb, real_embedder)


@pytest.fixture(scope="session")
def test_kb(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> Path:
    return shared_index("test_kb", TEST_KB, tmp_path_factory, real_embedder)


@pytest.fixture(scope="session")
def test_assistant(test_kb: Path, real_embedder: Any) -> Assistant:
    return open_shared(test_kb, real_embedder)
