"""Block text as every format reader writes it, and the small helpers the readers share.

Whitespace is collapsed, inline code is in backticks and tables are Markdown pipe tables, so
a block reads the same whichever format it came from.
"""

from __future__ import annotations

import re

MONO_FONT = re.compile(r"mono|code|courier|consolas|console|menlo|monaco|fixedsys", re.I)


def code_span(text: str) -> str:
    """Inline code in backticks (more backticks than the code holds, as Markdown does)."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def pipe_table(rows: list[list[str]]) -> str:
    """Rows of cell texts as a Markdown pipe table; the first row is the header."""
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return ""
    width = max(len(row) for row in rows)

    def line(cells: list[str]) -> str:
        cells = [c.replace("|", "\\|") for c in cells] + [""] * (width - len(cells))
        return "| " + " | ".join(cells) + " |"

    return "\n".join([line(rows[0]), "| " + " | ".join(["---"] * width) + " |",
                      *(line(row) for row in rows[1:])])


def collapse_space(text: str) -> str:
    """Runs of whitespace as one space, without leading or trailing space."""
    return re.sub(r"\s+", " ", text).strip()


def int_attr(value: str | None, default: int) -> int:
    """An integer attribute's value; ``default`` when it is missing or not a number."""
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
