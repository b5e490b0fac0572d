"""An article as sanitised HTML sections, each with the anchor its chunks cite.

Block text goes through markdown-it with raw HTML disabled (so ``<script>`` in an article is
shown as text) and then through nh3's allow-list, so no attribute such as ``onerror=`` and no
``javascript:`` link can reach a page. Section anchors are ``ingest.chunk.slugify`` of the
section's heading, the same as :attr:`core.types.Chunk.anchor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from itertools import groupby

import nh3
from markdown_it import MarkdownIt

from core.types import Article, Block
from ingest.chunk import slugify

ALLOWED_TAGS = {"p", "a", "strong", "em", "code", "pre", "ol", "ul", "li", "br", "h2", "h3",
                "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "blockquote"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "pre": {"class"}, "h2": {"class"},
                      "h3": {"class"}, "h4": {"class"}}
_md = MarkdownIt("commonmark", {"html": False, "linkify": False})


@dataclass(frozen=True)
class Section:
    anchor: str
    heading: str
    path: tuple[str, ...]
    level: int
    html: str


def sanitize(html: str) -> str:
    """nh3's allow-list: only formatting tags, links with http(s)/mailto, no event handlers."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


def inline(text: str) -> str:
    return _md.renderInline(text)


def _list_html(items: list[Block]) -> str:
    tag = "ol" if items[0].ordered else "ul"
    return f"<{tag}>" + "".join(f"<li>{inline(b.text)}</li>" for b in items) + f"</{tag}>"


def blocks_html(blocks: list[Block]) -> str:
    """The body of one section (its heading excluded)."""
    parts: list[str] = []
    body = [b for b in blocks if b.kind != "heading"]
    for (kind, _ordered), group in groupby(body, key=lambda b: (b.kind, b.ordered)):
        items = list(group)
        if kind == "list_item":
            parts.append(_list_html(items))
        elif kind in ("code", "table"):
            css = "table-text" if kind == "table" else "code"
            parts.extend(f'<pre class="{css}"><code>{escape(b.text)}</code></pre>' for b in items)
        else:
            parts.extend(f"<p>{inline(b.text)}</p>" for b in items)
    return sanitize("".join(parts))


def render_sections(article: Article) -> list[Section]:
    """The article's sections in reading order; the untitled lead section has anchor ``""``."""
    out: list[Section] = []
    for path, group in groupby(article.blocks, key=lambda b: b.section):
        blocks = list(group)
        head = next((b for b in blocks if b.kind == "heading"), None)
        heading = path[-1] if path else ""
        level = min(max(head.level if head and head.level else len(path) + 1, 2), 6)
        html = blocks_html(blocks)
        if not html and not heading:
            continue
        out.append(Section(slugify(heading) if heading else "", heading, tuple(path), level,
                           html))
    return out
