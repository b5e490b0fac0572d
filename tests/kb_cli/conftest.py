"""Fixtures for the CLI tests: a clean environment and the session's kb_samples index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.assistant.helpers import KB_SAMPLES, shared_index
from tests.env import clean_kb_env


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No KB_* variable or kb.toml of the developer's leaks into a test."""
    clean_kb_env(monkeypatch)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def sample_kb(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> Path:
    """The same kb_samples index the assistant tests use (built once per session)."""
    return shared_index("kb_samples", KB_SAMPLES, tmp_path_factory, real_embedder)


@pytest.fixture
def real_model_cli(monkeypatch: pytest.MonkeyPatch, real_embedder: Any) -> None:
    """``kb ask`` / ``kb eval`` get the session's loaded model instead of loading their own."""
    monkeypatch.setattr("kb_cli.ask_cmd.make_embedder", lambda settings: real_embedder)
    monkeypatch.setattr("kb_cli.eval_cmd.make_embedder", lambda settings: real_embedder)
