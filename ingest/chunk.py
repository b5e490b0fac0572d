"""Split an :class:`Article` into :class:`Chunk` s along its sections, sized in tokens.

A chunk never crosses a section boundary. Within a section, whole blocks (a paragraph, a
numbered step, a code block, a table) are packed greedily up to the budget; only a block that
alone is over budget is split, by LangChain's recursive splitter on tiktoken counts. The budget
leaves room for the title and section path, which are embedded with the text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence

from langchain_text_splitters import RecursiveCharacterTextSplitter

from core.types import Article, Block, Chunk
from ingest.tokens import ENCODING_NAME, count_tokens

MIN_BUDGET = 48


def slugify(heading: str) -> str:
    """The anchor a rendered article gives a heading (GitHub / Microsoft Learn style)."""
    slug = re.sub(r"[^\w\s-]", "", heading.lower()).strip()
    return re.sub(r"[\s]+", "-", slug)


def fence(code: str, lang: str = "") -> str:
    """A code block as chunk text: ```` ```lang ````, its lines verbatim, ```` ``` ````.

    (A code block that itself holds a line starting with three backticks gets a longer
    fence, as Markdown does.)
    """
    runs = re.findall(r"^[ \t]*(`{3,})", code, re.M)
    marks = "`" * max([3, *(len(run) + 1 for run in runs)])
    return f"{marks}{lang}\n{code}\n{marks}"


def render_block(block: Block, number: int | None = None) -> str:
    """A block as chunk text.

    A list item is its number (``3.``, the source's own number) or ``-`` plus its text,
    indented two spaces per nesting level; a code block is fenced (:func:`fence`); a table is
    a Markdown pipe table; anything else is its text, inline code in backticks.
    """
    if block.kind == "list_item":
        marker = f"{number}." if number is not None else "-"
        return f"{'  ' * block.level}{marker} {block.text}"
    if block.kind == "code":
        return fence(block.text, block.lang)
    return block.text


def _units(blocks: list[Block]) -> list[tuple[str, Block]]:
    """Each block's chunk text. A step without a source number (``Block.number == 0``) counts
    on from the step before it at its level; any other block restarts that count."""
    out: list[tuple[str, Block]] = []
    counts: dict[int, int] = {}
    for block in blocks:
        if block.kind == "heading":
            continue
        if block.kind != "list_item":
            counts = {}
            out.append((render_block(block), block))
            continue
        counts = {level: n for level, n in counts.items() if level <= block.level}
        if block.ordered:
            counts[block.level] = block.number or counts.get(block.level, 0) + 1
            out.append((render_block(block, counts[block.level]), block))
        else:
            out.append((render_block(block), block))
    return out


def _split_long(text: str, budget: int) -> list[str]:
    """Split one over-long block; pieces the splitter leaves a token or two over are re-split.

    (The splitter adds up the token counts of the pieces it joins, which can undercount the
    joined text.)
    """
    splitter = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
        encoding_name=ENCODING_NAME, chunk_size=budget, chunk_overlap=0)
    pieces: list[str] = []
    for piece in splitter.split_text(text):
        if count_tokens(piece) > budget and budget > 8:
            pieces.extend(_split_long(piece, budget - max(1, budget // 10)))
        elif piece.strip():
            pieces.append(piece)
    return pieces


def _split_code(block: Block, budget: int) -> list[str]:
    """An over-long code block in parts on line boundaries, each part fenced on its own.

    A single line longer than the budget is itself split (the only case where a line of code
    is cut).
    """
    room = max(8, budget - count_tokens(fence("", block.lang)) - 1)
    parts: list[list[str]] = []
    used = room + 1
    for line in block.text.split("\n"):
        size = count_tokens(line) + 1
        if size > room:  # the pieces of a cut line are parts of their own
            parts.extend([piece] for piece in _split_long(line, room))
            used = room + 1
            continue
        if used + size > room:
            parts.append([])
            used = 0
        parts[-1].append(line)
        used += size
    return [text for part in parts for text in _fenced(part, block.lang, budget)]


def _fenced(lines: list[str], lang: str, budget: int) -> list[str]:
    """Fence ``lines``, halving them while the fenced text counts over the budget."""
    text = fence("\n".join(lines), lang)
    if count_tokens(text) <= budget or len(lines) < 2:
        return [text]
    half = len(lines) // 2
    return _fenced(lines[:half], lang, budget) + _fenced(lines[half:], lang, budget)


def _pack(units: list[tuple[str, Block]], budget: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for unit, block in units:
        size = count_tokens(unit) + 1
        if size > budget:
            if current:
                pieces.append("\n".join(current))
                current, used = [], 0
            pieces.extend(_split_code(block, budget) if block.kind == "code"
                          else _split_long(unit, budget))
            continue
        if used + size > budget and current:
            pieces.append("\n".join(current))
            current, used = [], 0
        current.append(unit)
        used += size
    if current:
        pieces.append("\n".join(current))
    return pieces


def chunk_id(article_id: str, section: tuple[str, ...], text: str, occurrence: int) -> str:
    """Stable id from the article id and the chunk's content: unchanged chunks keep their id."""
    digest = hashlib.sha1("\x1f".join((article_id, *section, text)).encode()).hexdigest()[:20]
    prefix = hashlib.sha1(article_id.encode()).hexdigest()[:10]
    return f"{prefix}-{digest}-{occurrence}"


def sections(blocks: Sequence[Block]) -> Iterator[tuple[tuple[str, ...], str, list[Block]]]:
    """``(section path, anchor, blocks)`` per section, in order; every heading starts one.

    Two sibling sections with the same heading stay apart, and the second one's anchor gets the
    ``-1`` suffix a rendered page gives it (``install``, ``install-1``).
    """
    used: dict[str, int] = {}
    current: list[Block] = []
    section: tuple[str, ...] = ()
    anchor = ""
    for block in blocks:
        if block.kind == "heading" or block.section != section:
            if current:
                yield section, anchor, current
            current, section = [], block.section
            anchor = slugify(section[-1]) if section else ""
            if block.kind == "heading":
                used[anchor] = used.get(anchor, -1) + 1
                anchor = f"{anchor}-{used[anchor]}" if used[anchor] else anchor
        current.append(block)
    if current:
        yield section, anchor, current


def chunk_article(article: Article, max_tokens: int = 180) -> list[Chunk]:
    """Chunks of at most ``max_tokens`` tiktoken tokens counting title and section path."""
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for section, anchor, group in sections(article.blocks):
        units = _units(group)
        if not units:
            continue
        head = article.title if not section else f"{article.title} | {' > '.join(section)}"
        budget = max(MIN_BUDGET, max_tokens - count_tokens(head) - 1)
        for text in _pack(units, budget):
            base = chunk_id(article.id, section, text, 0)
            occurrence = seen.get(base, 0)
            seen[base] = occurrence + 1
            cid = base if occurrence == 0 else chunk_id(article.id, section, text, occurrence)
            chunks.append(Chunk(cid, article.id, article.title, section, len(chunks), anchor,
                                text, article.content_hash))
    return chunks
