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


def render_block(block: Block, number: int | None = None) -> str:
    if block.kind == "list_item":
        return f"{number}. {block.text}" if number is not None else f"- {block.text}"
    return block.text


def _units(blocks: list[Block]) -> list[str]:
    out: list[str] = []
    number = 0
    for block in blocks:
        if block.kind == "heading":
            continue
        if block.kind == "list_item" and block.ordered:
            number += 1
            out.append(render_block(block, number))
        else:
            number = 0 if block.kind != "list_item" else number
            out.append(render_block(block))
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


def _pack(units: list[str], budget: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for unit in units:
        size = count_tokens(unit) + 1
        if size > budget:
            if current:
                pieces.append("\n".join(current))
                current, used = [], 0
            pieces.extend(_split_long(unit, budget))
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
