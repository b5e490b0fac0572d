"""An article as sanitised HTML sections, each with the anchor its chunks cite.

Blocks are shown as the source wrote them: lists keep their numbers (``<ol start="3">`` after
an interruption) and their nesting, code blocks are ``<pre><code>`` with their line breaks,
tables are tables, and every character of the text is shown as it is (``\\\\print01``,
``PRINTERS\\*``): block text is plain text whose only markup is inline code in backticks.
Each text goes through markdown-it with raw HTML disabled and every other Markdown character
escaped (so ``<script>`` in an article is shown as text and ``**`` stays ``**``), and the page
through nh3's allow-list, so no attribute such as ``onerror=`` and no ``javascript:`` link can
reach a page. Section anchors are ``ingest.chunk.slugify`` of the section's heading, the same
as :attr:`core.types.Chunk.anchor`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from itertools import groupby

import nh3
from markdown_it import MarkdownIt

from core.types import Article, Block
from ingest.chunk import slugify

ALLOWED_TAGS = {"p", "a", "strong", "em", "code", "pre", "ol", "ul", "li", "br", "h2", "h3",
                "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "blockquote"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "pre": {"class"}, "code": {"class"},
                      "ol": {"start"}, "li": {"value"}, "h2": {"class"}, "h3": {"class"},
                      "h4": {"class"}}
_md = MarkdownIt("commonmark", {"html": False, "linkify": False})
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_CELL = re.compile(r"(?<!\\)\|")


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


def literal_markdown(text: str) -> str:
    """``text`` as Markdown that shows every character as it is, code spans kept as code."""
    out: list[str] = []
    last = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_PUNCTUATION.sub(r"\\\1", text[last:match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_PUNCTUATION.sub(r"\\\1", text[last:]))
    return "".join(out)


def inline(text: str) -> str:
    """One block's text as inline HTML: literal characters, `code` as ``<code>``."""
    lines = [_md.renderInline(literal_markdown(line)) for line in text.split("\n")]
    return "<br>".join(lines)


def _list_html(items: list[Block]) -> str:
    """Consecutive list items as (nested) lists; numbered lists start at the source's number.

    An item without a source number (``Block.number == 0``) counts on from the one before.
    """
    parts: list[str] = []
    stack: list[tuple[int, str, int]] = []  # open lists: level, tag, the next item's number
    base = min(b.level for b in items)
    for block in items:
        level, tag = block.level - base, "ol" if block.ordered else "ul"
        while stack and (stack[-1][0] > level or (stack[-1][0] == level and stack[-1][1] != tag)):
            parts.append(f"</li></{stack.pop()[1]}>")
        if stack and stack[-1][0] == level:
            expected = stack[-1][2]
            number = block.number or expected
            value = f' value="{number}"' if tag == "ol" and number != expected else ""
            parts.append(f"</li><li{value}>")
            stack[-1] = (level, tag, number + 1)
        else:
            number = block.number or 1
            start = f' start="{number}"' if tag == "ol" and number != 1 else ""
            parts.append(f"<{tag}{start}><li>")
            stack.append((level, tag, number + 1))
        parts.append(inline(block.text))
    parts.extend(f"</li></{tag}>" for _, tag, _ in reversed(stack))
    return "".join(parts)


def table_html(text: str) -> str:
    """A pipe table (the loader's table text) as a table; any other text as preformatted."""
    rows = [[cell.strip().replace("\\|", "|") for cell in _CELL.split(line.strip())[1:-1]]
            for line in text.split("\n")]
    if len(rows) < 2 or not all(rows) or not all(re.fullmatch(r":?-{3,}:?", c) for c in rows[1]):
        return f'<pre class="table-text"><code>{escape(text)}</code></pre>'
    head = "".join(f"<th>{inline(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>"
                   for row in rows[2:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def code_html(block: Block) -> str:
    """A code block, line breaks and every character kept; nested under a step if it is."""
    css = "code nested" if block.level else "code"
    lang = f' class="language-{escape(block.lang)}"' if block.lang else ""
    return f'<pre class="{css}"><code{lang}>{escape(block.text)}</code></pre>'


def blocks_html(blocks: list[Block]) -> str:
    """The body of one section (its heading excluded)."""
    parts: list[str] = []
    body = [b for b in blocks if b.kind != "heading"]
    for kind, group in groupby(body, key=lambda b: b.kind):
        items = list(group)
        if kind == "list_item":
            parts.append(_list_html(items))
        elif kind == "code":
            parts.extend(code_html(b) for b in items)
        elif kind == "table":
            parts.extend(table_html(b.text) for b in items)
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
