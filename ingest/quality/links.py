"""The ``broken-link`` rule: links to articles or sections that are not in the KB.

Relative links resolve against the linking article's path (``../storage/x.md``, ``x.md#anchor``,
``#anchor``); absolute links count only when they equal an article's ``url``. Links to other
sites, images and downloads are not checked: kb cannot know whether they exist.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ingest.chunk import slugify
from ingest.load import FORMATS
from ingest.quality.flag import make_flag
from ingest.types import Article, Flag

ARTICLE_SUFFIXES = frozenset(FORMATS) | {""}


def _anchor_key(anchor: str) -> str:
    """Slug rules differ between renderers; compare letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", unquote(anchor).lower())


def _url_key(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.netloc.lower()}{parts.path.rstrip('/').lower()}"


@dataclass(frozen=True)
class LinkIndex:
    """Every article's path, anchors and url: what a link may point to."""

    anchors: dict[str, frozenset[str]]
    by_url: dict[str, str]

    @classmethod
    def build(cls, articles: Iterable[Article]) -> LinkIndex:
        anchors: dict[str, frozenset[str]] = {}
        by_url: dict[str, str] = {}
        for article in articles:
            anchors[article.path] = frozenset(_anchor_key(slugify(h.text))
                                              for h in article.headings)
            if article.url:
                by_url[_url_key(article.url)] = article.path
        return cls(anchors, by_url)

    def find(self, path: str) -> str | None:
        """The article at ``path``, allowing the extension to be left out."""
        if path in self.anchors:
            return path
        return next((path + ext for ext in FORMATS if path + ext in self.anchors), None)


def _target(link: str, article: Article, index: LinkIndex) -> tuple[str | None, str, bool]:
    """``(path or None, anchor, checked)``; ``checked`` is False for links kb does not judge."""
    parts = urlsplit(link)
    anchor = parts.fragment
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https"):
            return None, anchor, False
        found = index.by_url.get(_url_key(link))
        return found, anchor, found is not None
    if not parts.path:
        return article.path, anchor, bool(anchor)
    if parts.path.startswith("/"):
        return None, anchor, False
    suffix = posixpath.splitext(parts.path)[1].lower()
    if suffix not in ARTICLE_SUFFIXES:
        return None, anchor, False
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(article.path),
                                               unquote(parts.path)))
    return joined, anchor, True


def broken_link_flags(article: Article, index: LinkIndex) -> list[Flag]:
    flags: list[Flag] = []
    seen: set[str] = set()
    for block in article.blocks:
        for link in block.links:
            link = link.strip()
            if not link or link in seen:
                continue
            seen.add(link)
            wanted, anchor, checked = _target(link, article, index)
            if not checked or wanted is None:
                continue
            where = " > ".join(block.section) or "the top of the article"
            found = None if wanted.startswith("../") else index.find(wanted)
            if found is None:
                flags.append(make_flag(article, "broken-link", "medium",
                                       f"links to {link}, which is not in the KB (in {where})",
                                       link, link=link, target=wanted, section=where,
                                       problem="no such article"))
            elif anchor and _anchor_key(anchor) not in index.anchors[found]:
                flags.append(make_flag(article, "broken-link", "medium",
                                       f"links to section #{anchor} of {found}, which has no "
                                       f"such heading (in {where})", link, link=link,
                                       target=found, anchor=anchor, section=where,
                                       problem="no such section"))
    return flags
