"""Which environment a test may inherit: none of the developer's ``KB_*`` settings, except the
session's own Chroma server (``KB_TEST_CHROMA=server``, tests/conftest.py), which is the point
of that mode."""

from __future__ import annotations

import os

import pytest

#: set by the test session itself, never by the developer (tests/conftest.py pops theirs)
SESSION_VARS = frozenset({"KB_CHROMA_URL"})


def developer_vars() -> list[str]:
    """The ``KB_*`` variables a test must not see."""
    return [n for n in os.environ if n.startswith("KB_") and n not in SESSION_VARS]


def clean_kb_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove the developer's ``KB_*`` variables for one test."""
    for name in developer_vars():
        monkeypatch.delenv(name)


def child_env() -> dict[str, str]:
    """The environment for a ``kb`` subprocess: this one without the developer's ``KB_*``."""
    drop = set(developer_vars())
    return {k: v for k, v in os.environ.items() if k not in drop}
