"""Word (DOCX) files into blocks and metadata, read with python-docx; zip bombs refused first."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import ArticleError
from core.types import Block
from ingest.block_text import MONO_FONT, code_span, collapse_space, int_attr, pipe_table

_CODE_STYLE = re.compile(r"\b(?:code|preformatted|source|verbatim|macro|plain text)\b", re.I)

ZIP_MAGIC = b"PK\x03\x04"
#: unzipped, a file may be this many times KB_MAX_FILE_MB in all
ZIP_EXPANSION = 5
#: a member over ZIP_RATIO_FROM bytes unzipped may be at most this many times its packed size
#: (Word's XML packs 5-20:1; a bomb packs 1000:1)
ZIP_MAX_RATIO = 100
ZIP_RATIO_FROM = 1_000_000
ZIP_MAX_MEMBERS = 10_000


def check_zip_expansion(data: bytes, rel: str, max_bytes: int, kind: str = "DOCX") -> None:
    """Refuse a zip that would unzip to too much, from its directory alone (no member is read).
    A file that is no readable zip passes: its parser reports what is wrong with it.

    The declared sizes can be trusted as bounds: Python's ``zipfile``, which python-docx reads
    with, stops inflating a member at its declared size (and then fails its CRC check).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        return  # not a readable zip, so not a bomb: its parser reports what is wrong with it
    if len(members) > ZIP_MAX_MEMBERS:
        raise ArticleError(rel, f"{kind} holds {len(members):,} files, over {ZIP_MAX_MEMBERS:,}"
                                "; not read")
    total = sum(m.file_size for m in members)
    if total > ZIP_EXPANSION * max_bytes:
        raise ArticleError(rel, f"{kind} expands to {total / 1e6:.0f} MB when unzipped, over the "
                                f"{ZIP_EXPANSION * max_bytes / 1e6:g} MB limit "
                                f"(KB_MAX_FILE_MB*{ZIP_EXPANSION}); not read")
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > ZIP_RATIO_FROM and ratio > ZIP_MAX_RATIO:
            raise ArticleError(rel, f"{kind} member {m.filename} expands to "
                                    f"{m.file_size / 1e6:.0f} MB from {m.compress_size:,} bytes,"
                                    f" {ratio:.0f}:1, over {ZIP_MAX_RATIO}:1; a zip bomb? "
                                    "not read")


def docx_meta(path: Path) -> dict[str, Any]:
    import docx

    props = docx.Document(str(path)).core_properties
    pairs = {"title": props.title, "author": props.author, "category": props.category,
             "keywords": props.keywords, "subject": props.subject}
    return {k: v for k, v in pairs.items() if v}


def _style_chain(style: Any) -> Iterator[Any]:
    while style is not None:
        yield style
        style = style.base_style


def _heading_level(style: Any) -> int:
    for s in _style_chain(style):
        name = (s.name or "").lower()
        if name == "title":
            return 1
        match = re.match(r"heading (\d)$", name)
        if match:
            return int(match.group(1))
    return 0


def _mono_run(run: Any, para_style: Any) -> bool:
    if run.style is not None and _CODE_STYLE.search(run.style.name or ""):
        return True
    names = [run.font.name, *(s.font.name for s in _style_chain(run.style)),
             *(s.font.name for s in _style_chain(para_style))]
    return bool(MONO_FONT.search(next((n for n in names if n), "")))


def _runs(para: Any) -> Iterator[tuple[Any, str | None]]:
    """The paragraph's runs in order, each with the link it belongs to."""
    from docx.text.hyperlink import Hyperlink

    for item in para.iter_inner_content():
        if isinstance(item, Hyperlink):
            for run in item.runs:
                yield run, item.url or item.address or None
        else:
            yield item, None


def _docx_inline(para: Any) -> tuple[str, tuple[str, ...]]:
    """The paragraph's text with monospaced runs as inline code, and its links."""
    parts: list[str] = []
    code: list[str] = []
    links: list[str] = []
    for run, link in _runs(para):
        if link and link not in links:
            links.append(link)
        if run.text.strip() and _mono_run(run, para.style):
            code.append(run.text)
            continue
        if code:
            parts.append(code_span("".join(code)))
            code = []
        parts.append(run.text)
    if code:
        parts.append(code_span("".join(code)))
    return collapse_space("".join(parts)), tuple(links)


def _is_code_paragraph(para: Any) -> bool:
    if any(_CODE_STYLE.search(s.name or "") for s in _style_chain(para.style)):
        return True
    runs = [run for run, _ in _runs(para) if run.text.strip()]
    return bool(runs) and all(_mono_run(run, para.style) for run in runs)


class _DocxNumbering:
    """Word's list numbering: whether an item is numbered, its depth and its number.

    Counters belong to the abstract numbering definition, so a list goes on counting across
    the paragraphs between its items; a numbering instance with a start override restarts.
    """

    def __init__(self, doc: Any) -> None:
        from docx.oxml.ns import qn

        self.qn = qn
        self.abstract: dict[str, str] = {}
        self.overrides: dict[str, dict[int, int]] = {}
        self.formats: dict[tuple[str, int], tuple[str, int]] = {}
        self.counters: dict[str, dict[int, int]] = {}
        self.seen: set[str] = set()
        root = doc.part.numbering_part.element
        for definition in root.findall(qn("w:abstractNum")):
            abstract_id = definition.get(qn("w:abstractNumId"))
            for lvl in definition.findall(qn("w:lvl")):
                fmt, start = lvl.find(qn("w:numFmt")), lvl.find(qn("w:start"))
                self.formats[(abstract_id, int_attr(lvl.get(qn("w:ilvl")), 0))] = (
                    fmt.get(qn("w:val")) if fmt is not None else "decimal",
                    int_attr(start.get(qn("w:val")) if start is not None else None, 1))
        for num in root.findall(qn("w:num")):
            num_id, ref = num.get(qn("w:numId")), num.find(qn("w:abstractNumId"))
            if ref is not None:
                self.abstract[num_id] = ref.get(qn("w:val"))
            for override in num.findall(qn("w:lvlOverride")):
                start = override.find(qn("w:startOverride"))
                if start is not None:
                    self.overrides.setdefault(num_id, {})[int_attr(override.get(
                        qn("w:ilvl")), 0)] = int_attr(start.get(qn("w:val")), 1)

    def item(self, para: Any) -> tuple[bool, int, int] | None:
        """``(ordered, depth, number)`` of a list paragraph, None for any other paragraph."""
        num_id: str | None = None
        ilvl: int | None = None
        for ppr in [para._p.pPr, *(s.element.pPr for s in _style_chain(para.style))]:
            numpr = ppr.numPr if ppr is not None else None
            if numpr is not None and num_id is None and numpr.numId is not None:
                num_id = str(numpr.numId.val)
            if numpr is not None and ilvl is None and numpr.ilvl is not None:
                ilvl = int(numpr.ilvl.val)
        if num_id is None or num_id == "0":
            return None
        ilvl = ilvl or 0
        abstract_id = self.abstract.get(num_id, num_id)
        fmt, start = self.formats.get((abstract_id, ilvl), ("decimal", 1))
        counters = self.counters.setdefault(abstract_id, {})
        if num_id not in self.seen:
            self.seen.add(num_id)
            for level, override in self.overrides.get(num_id, {}).items():
                counters[level] = override - 1
        counters[ilvl] = counters.get(ilvl, start - 1) + 1
        for deeper in [level for level in counters if level > ilvl]:
            del counters[deeper]
        ordered = fmt not in ("bullet", "none")
        style = re.search(r"\blist (?:number|bullet) (\d)$", (para.style.name or "").lower())
        depth = max(ilvl, int(style.group(1)) - 1 if style else 0)  # "List Bullet 2"
        return ordered, depth, counters[ilvl] if ordered else 0


def docx_blocks(path: Path) -> list[Block]:
    """A Word file's body as blocks, read with python-docx in document order.

    Headings by their style (``Heading N``, ``Title``), list items by Word's numbering,
    paragraphs in a code style or a monospaced font as code (consecutive ones are one block),
    monospaced runs as inline code, tables as pipe tables.
    """
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    numbering = _DocxNumbering(document)
    blocks: list[Block] = []
    code: list[str] = []

    def end_code() -> None:
        if code and "".join(code).strip():
            after_item = bool(blocks) and blocks[-1].kind == "list_item"
            blocks.append(Block("code", "\n".join(code).strip("\n").rstrip(),
                                level=blocks[-1].level + 1 if after_item else 0))
        code.clear()

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            end_code()
            text = pipe_table([[collapse_space(cell.text) for cell in row.cells]
                               for row in item.rows])
            if text:
                blocks.append(Block("table", text))
            continue
        heading = _heading_level(item.style)
        if not heading and (_is_code_paragraph(item) or (code and not item.text.strip())):
            code.append(item.text)
            continue
        end_code()
        text, links = _docx_inline(item)
        if not text:
            continue
        listed = None if heading else numbering.item(item)
        if heading:
            blocks.append(Block("heading", text, level=heading))
        elif listed:
            ordered, depth, number = listed
            blocks.append(Block("list_item", text, level=depth, ordered=ordered,
                                number=number, links=links))
        else:
            blocks.append(Block("text", text, links=links))
    end_code()
    return blocks
