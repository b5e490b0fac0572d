"""Small articles written for the quality tests, built directly as :class:`Article` s."""

from __future__ import annotations

from datetime import date
from typing import Any

from core.types import Article, Block
from ingest.quality.lifecycle import load_lifecycle
from ingest.quality.policy import QualityPolicy

AS_OF = date(2026, 11, 25)
POLICY = QualityPolicy(lifecycle=load_lifecycle())

#: a body with an issue and a resolution section, enough words to pass the size rules
GOOD_BODY = ("## Symptoms", "Outlook shows a red bar that says the mailbox is full and new "
             "mail does not arrive for the user in the morning.",
             "## Resolution", "- Open Outlook and select File > Tools > Mailbox Cleanup.",
             "- Empty Deleted Items and archive mail older than one year to the online archive.",
             "- Ask the service desk for a larger quota if the mailbox is still over its limit "
             "after the clean-up has finished and the user has signed out and in again.")


def blocks(*lines: str | Block) -> tuple[Block, ...]:
    """``"## H"`` / ``"### H"`` are headings, ``"- x"`` list items, other strings paragraphs."""
    out: list[Block] = []
    stack: list[tuple[int, str]] = []
    for line in lines:
        if isinstance(line, Block):
            out.append(line)
            continue
        section = tuple(text for _, text in stack)
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            text = line.lstrip("#").strip()
            stack = [(lv, t) for lv, t in stack if lv < level] + [(level, text)]
            out.append(Block("heading", text, tuple(t for _, t in stack), level))
        elif line.startswith("- "):
            out.append(Block("list_item", line[2:], section))
        else:
            out.append(Block("text", line, section))
    return tuple(out)


def article(*lines: str | Block, id: str = "email/test.md", **fields: Any) -> Article:
    """A published, owned, recently reviewed article unless ``fields`` say otherwise."""
    values: dict[str, Any] = {"title": "A test article", "owner": "ann@northwind.example",
                              "last_reviewed": date(2026, 6, 1), "content_hash": "hash-1",
                              "raw_meta": {"title": "A test article",
                                           "owner": "ann@northwind.example"}}
    values.update(fields)
    values.setdefault("path", id)
    return Article(id=id, blocks=blocks(*(lines or GOOD_BODY)), **values)


def words(count: int, word: str = "word") -> str:
    return " ".join([word] * count)
