"""Test inputs built at run time (DOCX, PDF, bad files) and views of an index on disk."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.paths import IndexPaths, live_index
from core.store import catalog
from ingest import vectors

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"
TEST_KB = DATA / "kb"
KB_SAMPLES = Path(__file__).resolve().parents[2] / "kb_samples"

#: the articles of tests/data/ingest/kb, by id
TEST_KB_IDS = (
    "KB0012345",  # email/shared-mailbox.md declares its id
    "microsoft/netlogon-event-5719.md",
    "microsoft/outlook-add-in-disabled.md",
    "network/vpn-reset.md",
    "network/wifi-guest.html",
    "printing/toner-low.txt",
)

# A section is (heading, level, [(kind, content)]) with kind "p", "ol" (list of steps) or "ul".
Section = tuple[str, int, list[tuple[str, Any]]]


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def make_docx(path: Path, title: str, sections: Sequence[Section], **core: str) -> Path:
    """A real Word file: an H1 title, headings, paragraphs and List Number / List Bullet items.

    ``core`` sets core properties (``author``, ``category``, ``keywords``, ``subject``...).
    """
    import docx

    doc = docx.Document()
    doc.core_properties.title = title
    for key, value in core.items():
        setattr(doc.core_properties, key, value)
    doc.add_heading(title, level=1)
    for heading, level, blocks in sections:
        doc.add_heading(heading, level=level)
        for kind, content in blocks:
            if kind == "p":
                doc.add_paragraph(content)
            else:
                style = "List Number" if kind == "ol" else "List Bullet"
                for item in content:
                    doc.add_paragraph(item, style=style)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


def make_pdf(path: Path, title: str, sections: Sequence[Section], **info: str) -> Path:
    """A real PDF with a text layer (fpdf2, core Helvetica, so latin-1 text only).

    Long paragraphs and steps wrap over several printed lines, as in any exported PDF.
    ``info`` sets document info (``author``, ``subject``, ``keywords``).
    """
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(title)
    for key, value in info.items():
        getattr(pdf, f"set_{key}")(value)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    for heading, _level, blocks in sections:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        for kind, content in blocks:
            if kind == "p":
                pdf.multi_cell(0, 6, content, new_x="LMARGIN", new_y="NEXT")
                continue
            for number, item in enumerate(content, start=1):
                pdf.cell(8, 6, f"{number}." if kind == "ol" else "-")
                pdf.multi_cell(0, 6, item, new_x="LMARGIN", new_y="NEXT")
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def make_textless_pdf(path: Path) -> Path:
    """A valid PDF whose only page has no text layer (what a scan looks like)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 50, style="F")
    pdf.output(str(path))
    return path


@dataclass
class Index:
    """A real index in a temporary data dir: SQLite catalog, Chroma collection, BM25 dir."""

    data_dir: Path
    paths: IndexPaths
    conn: sqlite3.Connection
    collection: Any

    @classmethod
    def open(cls, data_dir: Path) -> Index:
        paths = live_index(data_dir)
        return cls(data_dir, paths, catalog.connect(paths.catalog),
                   vectors.open_collection(paths.chroma))

    def catalog_chunk_ids(self) -> set[str]:
        return catalog.chunk_ids(self.conn)

    def chroma_ids(self) -> set[str]:
        return vectors.all_ids(self.collection)

    def article_ids(self) -> list[str]:
        return catalog.article_ids(self.conn)

    def chunk_texts(self, article_id: str) -> dict[str, str]:
        return {cid: row[4] for cid, row in catalog.chunks_of(self.conn, article_id)}
