"""Markdown and HTML into blocks, and HTML's metadata.

Markdown is rendered to HTML by markdown-it and HTML is walked with lxml, so both keep list
numbers and nesting, code with its language, and tables. HTML's metadata comes from its
``<meta>`` tags and ``<title>``; hidden elements are kept apart, never indexed or shown.
"""

from __future__ import annotations

import functools
import html as html_lib
import re
from dataclasses import replace
from typing import Any

from core.types import Block
from ingest.block_text import code_span, collapse_space, int_attr, pipe_table
from ingest.metadata import BUILTIN_ALIASES

_LANG_CLASS = re.compile(r"(?:^|\s)(?:language|lang)-([\w+#.-]+)")
_HTML_SKIP = {"script", "style", "head", "title", "noscript", "template", "svg", "math",
              "iframe", "object", "button", "select", "textarea", "img"}
_HTML_BLOCK = {"p", "div", "section", "article", "main", "body", "html", "header", "footer",
               "aside", "blockquote", "figure", "figcaption", "details", "summary", "dl", "dt",
               "dd", "hr", "form", "fieldset", "center", "address", "nav", "caption"}
# Tags are matched as ``<name attributes>`` with no ``<`` or ``>`` inside, and an element's end
# is found with str.find, so that every scan of the text is linear: a regex such as
# ``<(\w+)[^>]*...>(.*?)</\1>`` rescans to the end of the text for each unclosed tag.
_OPEN_TAG = re.compile(r"<(\w+)(\s[^<>]*)?>")
_META_TAG = re.compile(r"<meta\b[^<>]*>", re.I)
_HIDING = re.compile(r"style\s*=\s*[\"'][^\"']*(?:display\s*:\s*none|visibility\s*:\s*hidden|"
                     r"font-size\s*:\s*0)|\shidden(?:\s|$)", re.I)
#: libxml2 stops reading (and drops the rest) below this depth unless told XML_PARSE_HUGE
MAX_HTML_DEPTH = 256


def hidden_elements(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, inner HTML)`` of each element hidden by a ``hidden`` attribute or by
    ``display: none``, ``visibility: hidden`` or ``font-size: 0`` in its style (outermost only;
    an element ends at the first closing tag of its name)."""
    found: list[tuple[int, int, str]] = []
    unclosed: dict[str, int] = {}  # tag name -> position after which it is never closed
    pos = 0
    while (match := _OPEN_TAG.search(text, pos)) is not None:
        pos = match.end()
        if not _HIDING.search(match.group(2) or ""):
            continue
        close = f"</{match.group(1).lower()}>"
        if unclosed.get(close, len(text) + 1) <= pos:
            continue
        end = re.compile(re.escape(close), re.I).search(text, pos)
        if end is None:
            unclosed[close] = pos
            continue
        found.append((match.start(), end.end(), text[pos:end.start()]))
        pos = end.end()
    return found


def strip_hidden(text: str) -> str:
    """The HTML with each hidden element (see :func:`hidden_elements`) replaced by a space."""
    parts: list[str] = []
    last = 0
    for start, end, _inner in hidden_elements(text):
        parts += [text[last:start], " "]
        last = end
    return "".join([*parts, text[last:]])


def _title(text: str) -> str | None:
    start = re.search(r"<title\b[^<>]*>", text, re.I)
    if start is None:
        return None
    end = re.compile(r"</title>", re.I).search(text, start.end())
    return None if end is None else text[start.end():end.start()]


def html_meta(text: str) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for tag in _META_TAG.findall(text):
        name = re.search(r"\b(?:name|property)\s*=\s*[\"']([^\"']+)[\"']", tag, re.I)
        content = re.search(r"\bcontent\s*=\s*[\"']([^\"']*)[\"']", tag, re.I)
        if name and content:
            meta[name.group(1).strip()] = html_lib.unescape(content.group(1))
    title = _title(text)
    if title is not None and not set(BUILTIN_ALIASES["title"]) & {k.lower() for k in meta}:
        meta["title"] = html_lib.unescape(re.sub(r"\s+", " ", title)).strip()
    hidden = [re.sub(r"<[^<>]*>", " ", inner) for _, _, inner in hidden_elements(text)]
    hidden = [re.sub(r"\s+", " ", h).strip() for h in hidden if h.strip()]
    if hidden:
        meta["_hidden_text"] = hidden
    return meta


class _HtmlBlocks:
    """Walks an HTML tree into blocks: headings, paragraphs, list items with their source
    number and depth, ``<pre>`` as code with its language, tables as pipe tables."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.buf: list[str] = []
        self.links: list[str] = []
        self.item: Block | None = None  # the list item waiting for its text
        self.depth = -1  # of the innermost list

    def flush(self) -> None:
        text = collapse_space("".join(self.buf))
        if text and self.item is not None:
            self.blocks.append(replace(self.item, text=text, links=tuple(self.links)))
            self.item = None
        elif text:
            self.blocks.append(Block("text", text, links=tuple(self.links)))
        if text:
            self.links = []
        self.buf = []

    def children(self, el: Any) -> None:
        if el.text:
            self.buf.append(el.text)
        for child in el:
            self.node(child)
            if child.tail:
                self.buf.append(child.tail)

    def node(self, el: Any) -> None:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if not tag or tag in _HTML_SKIP:
            return
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.flush()
            self.children(el)
            text, self.buf = collapse_space("".join(self.buf)), []
            if text:
                self.blocks.append(Block("heading", text, level=int(tag[1])))
        elif tag == "pre":
            self.flush()
            code = el.text_content().rstrip().lstrip("\n")
            if code.strip():
                self.blocks.append(Block("code", code, level=self.depth + 1, lang=_lang(el)))
        elif tag in ("ul", "ol", "menu"):
            self.flush()
            self.list(el, tag == "ol")
        elif tag == "table":
            self.flush()
            self.table(el)
        elif tag in ("code", "kbd", "samp", "tt"):
            self.buf.append(code_span(el.text_content()) if tag == "code"
                            else el.text_content())
        elif tag == "a":
            if el.get("href"):
                self.links.append(el.get("href"))
            self.children(el)
        elif tag in _HTML_BLOCK or tag == "li":
            self.flush()
            self.children(el)
            self.flush()
        else:
            self.children(el)

    def list(self, el: Any, ordered: bool) -> None:
        number = int_attr(el.get("start"), 1) - 1
        self.depth += 1
        for child in el:
            if not isinstance(child.tag, str) or child.tag.lower() != "li":
                self.node(child)
                continue
            number = int_attr(child.get("value"), number + 1)
            self.flush()
            self.item = Block("list_item", "", level=self.depth, ordered=ordered,
                              number=number if ordered else 0)
            self.children(child)
            self.flush()
            self.item = None
        self.depth -= 1

    def table(self, el: Any) -> None:
        rows: list[list[str]] = []
        links: list[str] = []
        for tr in el.iter("tr"):
            cells = []
            for cell in tr:
                if isinstance(cell.tag, str) and cell.tag.lower() in ("td", "th"):
                    sub = _HtmlBlocks()
                    sub.children(cell)
                    sub.flush()
                    cells.append(collapse_space(" ".join(b.text.replace("\n", " ")
                                                    for b in sub.blocks)))
                    links += [link for b in sub.blocks for link in b.links]
            rows.append(cells)
        text = pipe_table(rows)
        if text:
            self.blocks.append(Block("table", text, links=tuple(links)))


def _lang(pre: Any) -> str:
    for el in (pre, *pre.iter("code")):
        match = _LANG_CLASS.search(el.get("class", "")) or (
            re.match(r"^[\w+#.-]+$", el.get("data-lang", "")))
        if match:
            return match.group(match.lastindex or 0).lower()
    return ""


def html_blocks(html: str) -> list[Block]:
    """Blocks of an HTML document or fragment (hidden elements already removed)."""
    import lxml.html

    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    if not html.strip():
        return []
    parser = lxml.html.HTMLParser()
    root = lxml.html.document_fromstring(html, parser=parser)
    if any("Excessive depth" in error.message for error in parser.error_log):
        raise ValueError(f"HTML nests elements deeper than {MAX_HTML_DEPTH} levels, so part of "
                         "it would be lost")
    walker = _HtmlBlocks()
    walker.node(root)
    walker.flush()
    return walker.blocks


@functools.cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table")


def markdown_blocks(text: str) -> list[Block]:
    """Markdown (CommonMark and pipe tables, read by markdown-it) as blocks."""
    return html_blocks(_markdown().render(text))
