"""The plain data that flows between kb's stages.

``load`` turns a file into an :class:`Article` (metadata plus :class:`Block` s of body text),
``chunk`` turns an Article into :class:`Chunk` s, ``quality`` turns it into :class:`Flag` s.
Everything here is a frozen dataclass so that stages cannot change what they were handed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

STATUSES = ("draft", "published", "retired")


@dataclass(frozen=True)
class Block:
    """One element of an article body, in reading order.

    ``kind`` is one of ``heading``, ``text``, ``list_item``, ``code``, ``table``.
    ``section`` is the heading path above the block (without the article title), e.g.
    ``("Resolution", "Method 2")``; for a heading block it includes the heading itself.
    ``level`` is a heading's level (2-6), a list item's nesting depth (0 = top level) or, for
    a code block inside a list item, the depth of that list plus one. ``number`` is an ordered
    item's number as the source shows it (``3`` for the third step even after an interruption;
    ``0`` = not known, count). A ``code`` block's text keeps its line breaks verbatim and
    ``lang`` is its language when the source says (``powershell``), else ``""``. Inline code
    in any text is written in backticks; a ``table``'s text is a Markdown pipe table.
    """

    kind: str
    text: str
    section: tuple[str, ...] = ()
    level: int = 0
    ordered: bool = False
    links: tuple[str, ...] = ()
    lang: str = ""
    number: int = 0


@dataclass(frozen=True)
class Article:
    """A KB article with kb's normalised metadata and its body as blocks."""

    id: str
    path: str
    title: str
    blocks: tuple[Block, ...]
    content_hash: str
    owner: str | None = None
    groups: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    category: str | None = None
    status: str = "published"
    last_reviewed: date | None = None
    valid_until: date | None = None
    url: str | None = None
    tags: tuple[str, ...] = ()
    fmt: str = "md"
    raw_meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    meta_problems: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)

    @property
    def headings(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "heading"]


def embed_text(title: str, section: tuple[str, ...], text: str) -> str:
    """What the embedding model reads of a chunk: title, section path, then the text."""
    head = title if not section else f"{title} | {' > '.join(section)}"
    return f"{head}\n{text}"


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of an article: one section or part of one."""

    id: str
    article_id: str
    title: str
    section: tuple[str, ...]
    position: int
    anchor: str
    text: str
    content_hash: str

    @property
    def section_path(self) -> str:
        return " > ".join(self.section)

    @property
    def embed_text(self) -> str:
        """What the embedding model reads: title, section path, then the text."""
        return embed_text(self.title, self.section, self.text)


@dataclass(frozen=True)
class Flag:
    """Something wrong with an article that its owner should fix."""

    article_id: str
    kind: str
    severity: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of a flag across re-ingests: article, kind and a stable detail."""
        return (self.article_id, self.kind, str(self.evidence.get("key", "")))


@dataclass(frozen=True)
class LoadFailure:
    """A file that could not be ingested, and why, in words a person can act on."""

    path: str
    error: str


@dataclass(frozen=True)
class ArticleFacts:
    """What retrieval, visibility and citations need of an article, without its text."""

    id: str
    title: str
    groups: frozenset[str]
    products: tuple[str, ...]
    category: str
    status: str
    last_reviewed: date | None
    valid_until: date | None
    url: str | None
    owner: str | None
    #: problems reading its metadata (``Article.meta_problems``); access ones hide it
    meta_problems: tuple[str, ...] = ()
