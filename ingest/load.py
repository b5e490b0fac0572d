"""Turn a file into an :class:`~core.types.Article`.

``unstructured`` partitions the body of every format into elements; metadata comes from the
format's own place (YAML front matter, ``<meta>`` tags, DOCX core properties, PDF document info)
overridden by an optional ``NAME.meta.yaml`` beside the file, then :mod:`ingest.metadata`
normalises it. Every failure is an :class:`~core.errors.ArticleError` naming the file.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.errors import ArticleError
from core.types import Article, Block
from ingest.metadata import BUILTIN_ALIASES, as_list, normalise, read_sidecar, split_front_matter

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")

FORMATS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".txt": "txt",
           ".docx": "docx", ".pdf": "pdf"}
SIDECAR_SUFFIX = ".meta.yaml"
#: bump when parsing changes, so that every article is re-read on the next ingest
LOADER_VERSION = "3"

_FENCE_INFO = re.compile(r"^(\s*)(```+|~~~+)[ \t]*[\w+#.-]+[^\n]*$", re.M)
_APPLIES = re.compile(r"^[_*\s]*applies to[_*\s]*:[_*\s]*(.+)$", re.I)
_KB_NUMBER = re.compile(r"\s*[_*]*original kb number[_*]*\s*:.*$", re.I)
_MD_LINK_TARGET = re.compile(r"!\[[^\]]*\]\([^)]*\)|(?<=\])\([^)]*\)")
_NUMBERED = re.compile(r"^\d{1,3}[.)]\s+")
_LIST_MARKER = re.compile(r"^(?:\d{1,3}[.)]|[-\u2022*])\s")
_DANGLING = ("and", "or", "of", "the", "to", "a", "an", "for", "with", "in", "on", "by")
_HIDDEN = re.compile(
    r"<(\w+)[^>]*(?:style\s*=\s*[\"'][^\"']*(?:display\s*:\s*none|visibility\s*:\s*hidden|"
    r"font-size\s*:\s*0)[^\"']*[\"']|\shidden[\s>])[^>]*>(.*?)</\1>", re.I | re.S)


def is_article_file(path: Path) -> bool:
    """Article formats, except sidecars and ``README.*`` files (folder notes, not articles)."""
    return (path.suffix.lower() in FORMATS and not path.name.endswith(SIDECAR_SUFFIX)
            and not path.name.lower().startswith("readme."))


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def decode_text(data: bytes, rel: str) -> str:
    """Decode UTF-8 (BOM allowed) or BOM-marked UTF-16; anything else is a clear error."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise ArticleError(rel, "looks binary (contains NUL bytes), not a text article")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleError(rel, f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                                f"{exc.start}); re-save it as UTF-8") from None


def _html_meta(text: str) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for tag in re.findall(r"<meta\b[^>]*>", text, re.I):
        name = re.search(r"\b(?:name|property)\s*=\s*[\"']([^\"']+)[\"']", tag, re.I)
        content = re.search(r"\bcontent\s*=\s*[\"']([^\"']*)[\"']", tag, re.I)
        if name and content:
            meta[name.group(1).strip()] = html_lib.unescape(content.group(1))
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    if title and not set(BUILTIN_ALIASES["title"]) & {k.lower() for k in meta}:
        meta["title"] = html_lib.unescape(re.sub(r"\s+", " ", title.group(1))).strip()
    hidden = [re.sub(r"<[^>]+>", " ", m.group(2)) for m in _HIDDEN.finditer(text)]
    hidden = [re.sub(r"\s+", " ", h).strip() for h in hidden if h.strip()]
    if hidden:
        meta["_hidden_text"] = hidden
    return meta


def _partition(fmt: str, path: Path, text: str | None) -> list[Any]:
    if fmt == "md":
        from unstructured.partition.md import partition_md
        return partition_md(text=_FENCE_INFO.sub(r"\1\2", text or ""))
    if fmt == "html":
        from unstructured.partition.html import partition_html
        # hidden elements are kept in raw_meta for the injection flag, never indexed or shown
        return partition_html(text=_HIDDEN.sub(" ", text or ""))
    if fmt == "docx":
        from unstructured.partition.docx import partition_docx
        return partition_docx(filename=str(path))
    from unstructured.partition.text import partition_text
    return partition_text(text=separate_text_blocks(text or ""))


_TEXT_HEADING = re.compile(r"^(?![-*\u2022]|\d+[.)])[A-Z][^\n]{0,60}$")


def separate_text_blocks(text: str) -> str:
    """Give plain text's headings and numbered steps blank lines of their own.

    ``partition_text`` groups lines into elements by blank lines, so a heading line directly
    followed by its text ("Resolution" then "1. Open ...") would merge into one paragraph. A
    heading here is a short capitalised line after a blank line, without closing punctuation.
    """
    lines = text.splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        previous = lines[i - 1].strip() if i else ""
        if (stripped and not previous and _TEXT_HEADING.match(stripped)
                and not stripped.endswith((".", ",", ";", ":", "!", "?"))
                and len(stripped.split()) <= 8):
            out += ["", stripped, ""]
        elif _NUMBERED.match(stripped):
            out += ["", line]
        else:
            out.append(line)
    return "\n".join(out)


def _docx_meta(path: Path) -> dict[str, Any]:
    import docx

    props = docx.Document(str(path)).core_properties
    pairs = {"title": props.title, "author": props.author, "category": props.category,
             "keywords": props.keywords, "subject": props.subject}
    return {k: v for k, v in pairs.items() if v}


def unwrap_pdf_lines(page: str) -> str:
    """Join the lines a PDF wrapped back into paragraphs and list items.

    Text extraction gives one line per printed line, so a step that wraps would otherwise be
    cut in two and its second half could even be taken for a heading. A line continues the one
    before when it starts in lower case, or the one before ends mid-phrase (a comma, "and"...)
    or fills the text width without closing punctuation; a list marker always starts anew.
    Paragraphs come back separated by blank lines, as in a text file.
    """
    lines = [line.strip() for line in page.splitlines() if line.strip()]
    lengths = sorted(len(line) for line in lines)
    full = lengths[int(len(lengths) * 0.9)] if lengths else 0
    out: list[str] = []
    last = ""
    for line in lines:
        if last and not _LIST_MARKER.match(line) and (
                line[:1].islower() or last.endswith((",", "(", "&"))
                or last.rsplit(" ", 1)[-1].lower() in _DANGLING
                or (len(last) >= 0.75 * full and last[-1].isalpha())):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
        last = line
    return "\n\n".join(out)


def _pdf_text_and_meta(path: Path, rel: str) -> tuple[str, dict[str, Any]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise ArticleError(rel, "PDF is encrypted; export an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        info: Any = reader.metadata or {}
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ArticleError(rel, f"corrupt or unreadable PDF ({exc})") from None
    text = "\n\n".join(unwrap_pdf_lines(p) for p in pages if p.strip())
    if not text.strip():
        raise ArticleError(rel, "PDF has no extractable text (a scanned image?)")
    meta = {str(k).lstrip("/").lower(): str(v) for k, v in info.items() if v}
    meta.pop("producer", None)
    meta.pop("creator", None)
    return text, meta


def elements_to_blocks(elements: list[Any], title: str | None) -> tuple[str | None, list[Block]]:
    """Turn unstructured elements into blocks with heading paths; the H1 becomes the title."""
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    for el in elements:
        text = re.sub(r"[ \t]+", " ", (el.text or "")).strip()
        if not text:
            continue
        links = tuple(getattr(el.metadata, "link_urls", None) or ())
        if el.category == "Title":
            depth = getattr(el.metadata, "category_depth", None)
            level = 1 if depth is None else int(depth) + 1
            if level == 1 and not blocks:
                title = title or text
                continue
            level = max(level, 2) if depth is not None else 2
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
            blocks.append(Block("heading", text, tuple(h for _, h in stack), level))
            continue
        kind = {"ListItem": "list_item", "CodeSnippet": "code", "Table": "table"}.get(
            el.category, "text")
        number = _NUMBERED.match(text) if kind == "list_item" else None
        if number:  # DOCX / PDF / text numbering arrives as part of the item's text
            text = text[number.end():].strip()
        blocks.append(Block(kind, text, tuple(h for _, h in stack), 0, number is not None, links))
    return title, blocks


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())[:32]


def mark_ordered(blocks: list[Block], source: str) -> list[Block]:
    """Mark list items that the source writes as numbered steps (``1.`` / ``2)``).

    A step's text can run on past its first source line (continuation lines, a command in the
    same paragraph), so a block also matches when it starts with a numbered line's text.
    """
    lines = re.findall(r"^\s*\d{1,3}[.)]\s+(.+)$", source, re.M)
    numbered = {_key(_MD_LINK_TARGET.sub("", line)) for line in lines}
    numbered.discard("")
    prefixes = {len(k) for k in numbered if len(k) >= 12}

    def is_step(block: Block) -> bool:
        key = _key(block.text)
        return key in numbered or any(key[:n] in numbered for n in prefixes)

    return [replace(b, ordered=True) if b.kind == "list_item" and is_step(b) else b
            for b in blocks]


def html_steps(html: str) -> str:
    """The items of every ``<ol>`` as ``1. text`` lines, for :func:`mark_ordered`."""
    lines = []
    for ol in re.findall(r"<ol\b.*?</ol>", html, re.I | re.S):
        for item in re.findall(r"<li\b[^>]*>(.*?)(?=<li\b|</li>|</?ol\b|</?ul\b)", ol, re.I | re.S):
            text = html_lib.unescape(re.sub(r"<[^>]+>", " ", item))
            lines.append("1. " + re.sub(r"\s+", " ", text).strip())
    return "\n".join(lines)


def _applies_to(blocks: list[Block]) -> tuple[str, ...]:
    for block in blocks[:6]:
        match = _APPLIES.match(block.text)
        if match:
            return as_list(_KB_NUMBER.sub("", match.group(1)))
    return ()


def load_article(path: Path, root: Path, max_bytes: int,
                 aliases: Mapping[str, list[str]] | None = None) -> Article:
    """Read one article file; raises ArticleError with the relative path and the reason."""
    rel = path.relative_to(root).as_posix()
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ArticleError(rel, f"unsupported file type {path.suffix!r}")
    try:
        size = path.stat().st_size
        if size == 0:
            raise ArticleError(rel, "file is empty")
        if size > max_bytes:
            raise ArticleError(rel, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit"
                                    f" (KB_MAX_FILE_MB={max_bytes / 1e6:g})")
        data = path.read_bytes()
        side = sidecar_path(path)
        side_bytes = side.read_bytes() if side.exists() else b""
    except OSError as exc:
        raise ArticleError(rel, f"cannot be read ({exc.strerror})") from None
    raw: dict[str, Any] = {}
    text: str | None = None
    if fmt in ("md", "html", "txt"):
        text = decode_text(data, rel)
        if not text.strip():
            raise ArticleError(rel, "file has no text")
        if fmt == "md":
            raw, text = split_front_matter(text, rel)
        elif fmt == "html":
            raw = _html_meta(text)
    elif fmt == "docx":
        try:
            raw = _docx_meta(path)
        except Exception as exc:  # python-docx raises many types on a bad zip
            raise ArticleError(rel, f"corrupt or unreadable DOCX ({type(exc).__name__})") from None
    else:
        text, raw = _pdf_text_and_meta(path, rel)
    if side_bytes:
        side_rel = side.relative_to(root).as_posix()
        raw.update(read_sidecar(decode_text(side_bytes, side_rel), side_rel))
    norm = normalise(raw, aliases)
    try:
        elements = _partition("txt" if fmt == "pdf" else fmt, path, text)
    except ArticleError:
        raise
    except Exception as exc:
        raise ArticleError(rel, f"could not be parsed as {fmt} ({type(exc).__name__}: {exc})"
                           ) from None
    title, blocks = elements_to_blocks(elements, norm.values.get("title"))
    if fmt in ("txt", "pdf") and blocks and blocks[0].kind == "text" and not blocks[0].section \
            and len(blocks[0].text) <= 120 and (title is None or
                                                blocks[0].text.lower() == title.lower()):
        title, blocks = title or blocks[0].text, blocks[1:]  # the first line is the title
    if not blocks:
        raise ArticleError(rel, "has no body text")
    if text is not None:
        blocks = mark_ordered(blocks, html_steps(text) if fmt == "html" else text)
    values = norm.values
    products = values.get("products") or _applies_to(blocks)
    digest = hashlib.sha256(LOADER_VERSION.encode() + data + b"\0" + side_bytes).hexdigest()
    return Article(
        id=values.get("id") or rel, path=rel, title=title or path.stem.replace("-", " "),
        blocks=tuple(blocks), content_hash=digest, owner=values.get("owner"),
        groups=values.get("groups", ()), products=tuple(products),
        category=values.get("category"), status=values.get("status", "published"),
        last_reviewed=values.get("last_reviewed"), valid_until=values.get("valid_until"),
        url=values.get("url"), tags=values.get("tags", ()), fmt=fmt, raw_meta=raw,
        meta_problems=norm.problems)
