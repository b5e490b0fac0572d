"""Building :class:`~core.types.Flag` s the same way in every rule."""

from __future__ import annotations

from typing import Any

from core.types import Article, Flag

SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


def make_flag(article: Article, kind: str, severity: str, reason: str, key: str,
              **evidence: Any) -> Flag:
    """A flag whose ``evidence["key"]`` keeps it the same flag across re-ingests."""
    return Flag(article.id, kind, severity, reason, {"key": key, **evidence})
