"""The ``broken-link`` rule: links to articles or sections that are not in the KB.

Relative links resolve against the linking article's path (``../storage/x.md``, ``x.md#anchor``,
``#anchor``); absolute links count only when they equal an article's ``url``. Links to other
sites, images and downloads are not checked: kb cannot know whether they exist. An anchor
exists when the title or a heading of the target slugs to it, or the source file declares it
(``<a id="x">``, ``<a name="x">``): the caller reads those with :func:`anchor_ids`, since
parsing drops them.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from core.types import Article, Flag
from ingest.chunk import slugify
from ingest.load import FORMATS
from ingest.quality.flag import make_flag

ARTICLE_SUFFIXES = frozenset(FORMATS) | {""}
_EXPLICIT_ANCHOR = re.compile(
    r"<[a-z][^>]*?\s(?:id|name)\s*=\s*(?:\"([^\"]+)\"|'([^']+)'|([^\s\"'>]+))", re.I)


def anchor_ids(source: str) -> set[str]:
    """Anchors a source file declares in HTML (``<a id="x">``, ``<div id="x">``...)."""
    return {next(g for g in groups if g) for groups in _EXPLICIT_ANCHOR.findall(source)}


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
    def build(cls, articles: Iterable[Article],
              explicit: Mapping[str, Iterable[str]] | None = None) -> LinkIndex:
        """``explicit``: article path -> anchors its source declares (see :func:`anchor_ids`)."""
        anchors: dict[str, frozenset[str]] = {}
        by_url: dict[str, str] = {}
        for article in articles:
            declared = (explicit or {}).get(article.path, ())
            anchors[article.path] = frozenset(
                [_anchor_key(slugify(h.text)) for h in article.headings]
                + [_anchor_key(slugify(article.title))]
                + [_anchor_key(a) for a in declared])
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
    if any(c.isspace() for c in link):
        return None, "", False  # not a URL: text in brackets and parentheses
    parts = urlsplit(link.replace("\\", "/"))
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
