"""Plain data passed between retrieval, answering and the edges (CLI, web)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Viewer:
    """Who is asking: decides which articles exist for them."""

    groups: frozenset[str] = frozenset()
    product: str | None = None
    category: str | None = None
    #: every group's articles (only to tell an access gap from a real one; never shown)
    all_groups: bool = False


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its scores and the article facts an answer needs."""

    chunk_id: str
    article_id: str
    title: str
    section: tuple[str, ...]
    anchor: str
    text: str
    position: int
    score: float
    dense: float = 0.0
    lexical: float = 0.0
    url: str | None = None
    last_reviewed: date | None = None
    stale: bool = False
    stale_reason: str | None = None

    @property
    def section_path(self) -> str:
        return " > ".join(self.section)


@dataclass(frozen=True)
class ArticleHit:
    """One article's aggregated score and its best chunks, best first."""

    article_id: str
    title: str
    score: float
    hits: tuple[Hit, ...]
    features: dict[str, float] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Retrieval:
    question: str
    articles: tuple[ArticleHit, ...]
    confidence: float


@dataclass(frozen=True)
class Citation:
    n: int
    article_id: str
    title: str
    section: str
    url: str
    last_reviewed: str | None
    stale: bool
    snippet: str
    chunk_id: str = ""
    stale_reason: str | None = None
    text: str = ""
    #: an open high-severity flag on the article, in plain words ("Reported outdated ...")
    warning: str | None = None


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    answer: str
    confidence: float
    citations: tuple[Citation, ...] = ()
    related: tuple[dict, ...] = ()
    note: str | None = None
    #: the next step when not covered ("Assign to Network-L2"), as the admin configured it
    escalation: str | None = None
    #: the cases a focused answer left out: ``{"title", "url"}``
    other_cases: tuple[dict, ...] = ()
