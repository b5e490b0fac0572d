"""Plain text and PDF (text and document info, read with pypdf) into blocks.

Neither has structure to read, so the text is prepared here (headings and steps set apart,
command blocks and monospaced PDF lines kept aside as code placeholders), partitioned by
``unstructured`` in :mod:`ingest.load`, and its elements made blocks by :func:`text_blocks`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from itertools import groupby
from typing import IO, Any

from core.errors import ArticleError
from core.types import Block
from ingest.block_text import MONO_FONT

_NUMBERED = re.compile(r"^(\d{1,3})[.)]\s+")
_LIST_MARKER = re.compile(r"^(?:\d{1,3}[.)]|[-\u2022*])\s")
_CMD_WORD = re.compile(r"^(?:[a-z][\w.-]*|[A-Z][a-z]+-[A-Z][A-Za-z]*|\.?\\\S*|[%$]\S+|"
                       r"[A-Za-z]:\\\S*)$")
_CMD_UPPER = re.compile(r"^[A-Z]{2,}(?:\.EXE|\.exe)?$")
_SWITCH = re.compile(r"\s[/-]\w")
_DANGLING = ("and", "or", "of", "the", "to", "a", "an", "for", "with", "in", "on", "by")
_TEXT_HEADING = re.compile(r"^(?![-*\u2022]|\d+[.)])[A-Z][^\n]{0,60}$")
#: longest paragraph handed to ``partition_text`` at once: its heuristics take time that grows
#: much faster than a paragraph's length (a 160 kB line: 19 s; the same as 4 kB parts: 0.2 s)
MAX_PARAGRAPH = 4000


def _bounded_lines(lines: list[str], limit: int = MAX_PARAGRAPH) -> list[str]:
    """The lines with a blank line wherever a paragraph would grow over ``limit`` characters;
    a line longer than that is cut at spaces (or, without any, every ``limit`` characters)."""
    out: list[str] = []
    size = 0
    for line in lines:
        pieces = textwrap.wrap(line, limit, break_long_words=True, break_on_hyphens=False,
                               drop_whitespace=True) if len(line) > limit else [line]
        for piece in pieces:
            if not piece.strip():
                size = 0
            elif size and size + len(piece) > limit:
                out.append("")
                size = 0
            size += len(piece)
            out.append(piece)
    return out


def separate_text_blocks(text: str) -> str:
    """Give plain text's headings and numbered steps blank lines of their own.

    ``partition_text`` groups lines into elements by blank lines, so a heading line directly
    followed by its text ("Resolution" then "1. Open ...") would merge into one paragraph. A
    heading here is a short capitalised line after a blank line, without closing punctuation.
    """
    lines = _bounded_lines(text.splitlines())
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


# ------------------------------------------------------------------ code in plain text


def is_command(line: str) -> bool:
    """A line that reads as a command (``net stop bits``, ``Get-Service x``, ``DISM /Online``,
    ``\\\\print01\\queue``), not as prose: no closing punctuation, a command-like first word."""
    stripped = line.strip()
    if not stripped or stripped.endswith((".", "!", "?", ",", ";", ":")) \
            or _LIST_MARKER.match(stripped):
        return False
    first = stripped.split()[0]
    return bool(_CMD_WORD.match(first) or (_CMD_UPPER.match(first) and _SWITCH.search(stripped)))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _code_placeholder(code: str, codes: dict[str, str]) -> str:
    key = f"kbcodeblock{len(codes):04d}"
    codes[key] = code
    return key


def text_code_blocks(text: str, codes: dict[str, str]) -> str:
    """Set plain text's command blocks apart as placeholders (their text goes into ``codes``).

    A command block is a run of lines indented deeper than a line ending in ``:`` that each
    read as a command (:func:`is_command`); the run ends at the first other line. Commands
    written flush left, or introduced without a colon, stay text: telling them from prose
    would need guesses.
    """
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if not line.rstrip().endswith(":"):
            continue
        end = i
        while end < len(lines) and _indent(lines[end]) > _indent(line) \
                and is_command(lines[end]):
            end += 1
        if end > i:
            out += ["", _code_placeholder(textwrap.dedent("\n".join(lines[i:end])), codes), ""]
            i = end
    return "\n".join(out)


def list_levels(text: str) -> dict[str, int]:
    """Nesting depth of each list item of plain text, by its indentation (keyed by its text)."""
    marks = [(len(m.group(1).expandtabs(4)), _key(m.group(2)))
             for m in re.finditer(r"^([ \t]*)(?:\d{1,3}[.)]|[-*\u2022])[ \t]+(.+)$", text, re.M)]
    indents = sorted({indent for indent, _ in marks})
    return {key: indents.index(indent) for indent, key in marks if key}


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())[:32]


def text_blocks(elements: list[Any], codes: Mapping[str, str],
                levels: Mapping[str, int]) -> list[Block]:
    """Plain text's unstructured elements as blocks (see :func:`ingest.load.with_sections`)."""
    blocks: list[Block] = []
    for el in elements:
        text = re.sub(r"[ \t]+", " ", (el.text or "")).strip()
        if not text:
            continue
        if text in codes:
            after_item = bool(blocks) and blocks[-1].kind == "list_item"
            blocks.append(Block("code", codes[text],
                                level=blocks[-1].level + 1 if after_item else 0))
            continue
        links = tuple(getattr(el.metadata, "link_urls", None) or ())
        if el.category == "Title":
            depth = getattr(el.metadata, "category_depth", None)
            blocks.append(Block("heading", text, level=1 if depth is None else int(depth) + 1))
            continue
        kind = {"ListItem": "list_item", "CodeSnippet": "code", "Table": "table"}.get(
            el.category, "text")
        number = _NUMBERED.match(text) if kind == "list_item" else None
        if number:  # plain text and PDF numbering arrives as part of the item's text
            text = text[number.end():].strip()
        blocks.append(Block(kind, text, level=levels.get(_key(text), 0) if kind == "list_item"
                            else 0, ordered=number is not None, links=links,
                            number=int(number.group(1)) if number else 0))
    return blocks


# ------------------------------------------------------------------ PDF


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


def _is_mono_font(font: Any) -> bool:
    """A monospaced PDF font: its name says so, or its descriptor has the FixedPitch flag."""
    if not font:
        return False
    try:
        if MONO_FONT.search(str(font.get("/BaseFont", ""))):
            return True
        descriptor = font.get("/FontDescriptor")
        descriptor = descriptor.get_object() if descriptor is not None else {}
        return bool(int(descriptor.get("/Flags", 0)) & 1)
    except (AttributeError, TypeError, ValueError):
        return False


def pdf_lines(page: Any) -> list[tuple[str, bool]]:
    """The page's text lines, each with whether it is printed in a monospaced font.

    The fonts come from pypdf's text visitor; when the visited lines do not match
    ``extract_text``'s lines exactly, no line is taken for code (best effort, never a guess).
    """
    pieces: list[tuple[str, bool]] = []
    plain = page.extract_text(
        visitor_text=lambda text, _cm, _tm, font, _size: pieces.append(
            (text, _is_mono_font(font)))) or ""
    lines: list[tuple[str, bool]] = []
    current: list[str] = []
    flags: list[bool] = []
    for text, mono in [*pieces, ("\n", False)]:
        for n, part in enumerate(text.split("\n")):
            if n:
                line = "".join(current).strip()
                if line:
                    lines.append((line, bool(flags) and all(flags)))
                current, flags = [], []
            current.append(part)
            if part.strip():
                flags.append(mono)
    expected = [line.strip() for line in plain.splitlines() if line.strip()]
    if [line for line, _ in lines] != expected:
        return [(line, False) for line in expected]
    return lines


def pdf_page_text(lines: list[tuple[str, bool]], codes: dict[str, str]) -> str:
    """A page as text paragraphs; each run of monospaced lines becomes a code placeholder."""
    parts: list[str] = []
    for mono, group in groupby(lines, key=lambda line: line[1]):
        texts = [text for text, _ in group]
        parts.append(_code_placeholder("\n".join(texts), codes) if mono
                     else unwrap_pdf_lines("\n".join(texts)))
    return "\n\n".join(part for part in parts if part)


def pdf_text_and_meta(source: IO[bytes], rel: str,
                      codes: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The PDF's text (monospaced lines as code placeholders) and its document info.

    pypdf bounds what it inflates (its ``*_MAX_OUTPUT_LENGTH`` limits) and raises many types
    on a broken file: any of them is this file's failure.
    """
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(source)
        if reader.is_encrypted:
            raise ArticleError(rel, "PDF is encrypted; export an unprotected copy")
        pages = [pdf_lines(page) for page in reader.pages]
        info: Any = reader.metadata or {}
        meta = {str(k).lstrip("/").lower(): str(v) for k, v in info.items() if v}
    except ArticleError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ArticleError(rel, f"corrupt or unreadable PDF ({exc})") from None
    except Exception as exc:  # pypdf on a broken file: IndexError, AttributeError, ...
        raise ArticleError(rel, f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})"
                           ) from None
    text = "\n\n".join(pdf_page_text(lines, codes) for lines in pages if lines)
    if not text.strip():
        raise ArticleError(rel, "PDF has no extractable text (a scanned image?)")
    meta.pop("producer", None)
    meta.pop("creator", None)
    return text, meta
