"""Turn a file into an :class:`~core.types.Article`.

``unstructured`` partitions the body of every format into elements; metadata comes from the
format's own place (YAML front matter, ``<meta>`` tags, DOCX core properties, PDF document info)
overridden by an optional ``NAME.meta.yaml`` beside the file, then :mod:`ingest.metadata`
normalises it. Every failure is an :class:`~core.errors.ArticleError` naming the file.

Each format is read by its own module: :mod:`ingest.read_markup` (Markdown, HTML),
:mod:`ingest.read_docx` and :mod:`ingest.read_text` (plain text, PDF); this one picks the
reader, applies the metadata and builds the Article.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.errors import ArticleError
from core.types import Article, Block
from ingest.metadata import as_list, normalise, read_sidecar, split_front_matter
from ingest.read_docx import ZIP_MAGIC, check_zip_expansion, docx_blocks, docx_meta
from ingest.read_markup import html_blocks, html_meta, markdown_blocks, strip_hidden
from ingest.read_text import (
    list_levels,
    pdf_text_and_meta,
    separate_text_blocks,
    text_blocks,
    text_code_blocks,
)

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")

FORMATS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".txt": "txt",
           ".docx": "docx", ".pdf": "pdf"}
SIDECAR_SUFFIX = ".meta.yaml"
#: bump when parsing changes, so that every article is re-read on the next ingest
LOADER_VERSION = "5"

_APPLIES = re.compile(r"^[_*\s]*applies to[_*\s]*:[_*\s]*(.+)$", re.I)
_KB_NUMBER = re.compile(r"\s*[_*]*original kb number[_*]*\s*:.*$", re.I)


def is_article_file(path: Path) -> bool:
    """Article formats, except sidecars and ``README.*`` files (folder notes, not articles)."""
    return (path.suffix.lower() in FORMATS and not path.name.endswith(SIDECAR_SUFFIX)
            and not path.name.lower().startswith("readme."))


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def sidecar_bytes(path: Path) -> bytes:
    """The bytes of the article's ``NAME.meta.yaml``; empty when there is none.

    An article whose name is too long to add ``.meta.yaml`` to cannot have a sidecar, so it
    has none (not an error). Other OSErrors are raised.
    """
    try:
        return sidecar_path(path).read_bytes()
    except FileNotFoundError:
        return b""
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return b""
        raise


def decode_text(data: bytes, rel: str) -> str:
    """Decode UTF-8 (BOM allowed) or BOM-marked UTF-16; anything else is a clear error."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ArticleError(rel, f"is not valid UTF-16 after its byte-order mark ({exc.reason}"
                                    f" at offset {exc.start}); re-save it as UTF-8") from None
    if b"\x00" in data[:8192]:
        raise ArticleError(rel, "looks binary (contains NUL bytes), not a text article")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleError(rel, f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                                f"{exc.start}); re-save it as UTF-8") from None


def _body_blocks(fmt: str, path: Path, text: str, codes: dict[str, str]) -> list[Block]:
    """The body in reading order, before headings give the blocks their sections.

    Markdown (markdown-it), HTML (lxml) and DOCX (python-docx) are read from their structure,
    which keeps list numbers and nesting, code and tables; plain text and PDF text, which have
    no structure to read, are partitioned by ``unstructured``.
    """
    if fmt == "md":
        return markdown_blocks(text)
    if fmt == "html":
        # hidden elements are kept in raw_meta for the injection flag, never indexed or shown
        return html_blocks(strip_hidden(text))
    if fmt == "docx":
        return docx_blocks(path)
    from unstructured.partition.text import partition_text

    if fmt == "txt":
        text = text_code_blocks(text, codes)
    return text_blocks(partition_text(text=separate_text_blocks(text)), codes, list_levels(text))


def with_sections(raw: list[Block], title: str | None) -> tuple[str | None, list[Block]]:
    """Give blocks their heading paths; an H1 before any body block becomes the title.

    ``raw`` is in reading order, each heading's ``level`` as the source has it (1-6; a
    heading of unknown level is 2).
    """
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    for block in raw:
        if block.kind == "heading":
            if block.level <= 1 and not blocks:
                title = title or block.text
                continue
            level = max(block.level, 2)
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, block.text))
            block = replace(block, level=level)
        blocks.append(replace(block, section=tuple(h for _, h in stack)))
    return title, blocks


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
        side_bytes = sidecar_bytes(path)
    except OSError as exc:
        raise ArticleError(rel, f"cannot be read ({exc.strerror})") from None
    if fmt == "docx" or data.startswith(ZIP_MAGIC):  # refuse a zip bomb before any parsing
        check_zip_expansion(data, rel, max_bytes, "DOCX" if fmt == "docx" else "zip")
    raw: dict[str, Any] = {}
    text: str | None = None
    codes: dict[str, str] = {}  # plain text's and PDF's code blocks, by placeholder
    if fmt in ("md", "html", "txt"):
        text = decode_text(data, rel)
        if not text.strip():
            raise ArticleError(rel, "file has no text")
        if fmt == "md":
            raw, text = split_front_matter(text, rel)
        elif fmt == "html":
            raw = html_meta(text)
    elif fmt == "docx":
        try:
            raw = docx_meta(path)
        except Exception as exc:  # python-docx raises many types on a bad zip
            raise ArticleError(rel, f"corrupt or unreadable DOCX ({type(exc).__name__})") from None
    else:
        text, raw = pdf_text_and_meta(io.BytesIO(data), rel, codes)
    if side_bytes:
        side_rel = sidecar_path(path).relative_to(root).as_posix()
        raw.update(read_sidecar(decode_text(side_bytes, side_rel), side_rel))
    norm = normalise(raw, aliases)
    try:
        found = _body_blocks(fmt, path, text or "", codes)
    except ArticleError:
        raise
    except Exception as exc:
        raise ArticleError(rel, f"could not be parsed as {fmt} ({type(exc).__name__}: {exc})"
                           ) from None
    title, blocks = with_sections(found, norm.values.get("title"))
    if fmt in ("txt", "pdf") and blocks and blocks[0].kind == "text" and not blocks[0].section \
            and len(blocks[0].text) <= 120 and (title is None or
                                                blocks[0].text.lower() == title.lower()):
        title, blocks = title or blocks[0].text, blocks[1:]  # the first line is the title
    if not blocks:
        raise ArticleError(rel, "has no body text")
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
