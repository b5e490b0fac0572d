"""Title vectors (``ingest/title_vectors.py``): written by ingest, embedded only when new,
read by retrieval as the ``title_cos`` feature, rebuilt in memory when missing or stale."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from assistant.service import open_assistant, run_retrieval
from assistant.types import Viewer
from core.paths import live_index
from core.store import catalog
from ingest import title_vectors
from ingest.embed import HashingEmbedder
from tests.assistant.helpers import (
    PRINTER_ARTICLES,
    build_index,
    ingest_into,
    write_articles,
)


class CountingEmbedder(HashingEmbedder):
    """The hashing model, counting the texts it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str], progress: bool = False) -> list[list[float]]:
        self.texts += list(texts)
        return super().embed(texts, progress)


def titles_of(data: Path) -> list[str]:
    conn = catalog.connect(live_index(data, create=False).catalog)
    try:
        return [a.title for a in catalog.article_facts(conn)]
    finally:
        conn.close()


def test_ingest_stores_one_vector_per_title_in_catalog_order(tmp_path: Path) -> None:
    data = build_index(tmp_path / "data", write_articles(tmp_path / "kb", PRINTER_ARTICLES),
                       HashingEmbedder())
    titles = titles_of(data)
    stored = title_vectors.load(live_index(data, create=False).titles, titles)

    assert stored is not None and stored.shape == (len(PRINTER_ARTICLES), 64)  # HashingEmbedder
    expected = np.asarray(HashingEmbedder().embed(titles), dtype=np.float32)
    assert np.allclose(stored, expected)


def test_a_re_ingest_embeds_only_new_and_changed_titles(tmp_path: Path) -> None:
    source = write_articles(tmp_path / "kb", PRINTER_ARTICLES)
    data = build_index(tmp_path / "data", source, HashingEmbedder())
    paths = live_index(data, create=False)
    first = (source / "printing/paper-jam.md").read_text()
    (source / "printing/paper-jam.md").write_text(
        first.replace("Printer reports a paper jam", "Paper jam in tray 2"))
    (source / "printing/new.md").write_text("# Toner is low\n\nReplace the toner cartridge.\n")

    counting = CountingEmbedder()
    ingest_into(paths, source, counting)

    titles = titles_of(data)
    assert {"Paper jam in tray 2", "Toner is low"} <= set(titles)
    assert "Printer reports a paper jam" not in titles
    # the chunks of the two changed articles, and exactly their two titles
    assert {t for t in counting.texts if t in titles} == {"Paper jam in tray 2", "Toner is low"}
    assert title_vectors.load(paths.titles, titles) is not None
    before = list(counting.texts)
    ingest_into(paths, source, counting)  # nothing changed: nothing embedded
    assert counting.texts == before


@pytest.mark.parametrize("damage", ["missing", "garbage", "other-titles"])
def test_retrieval_embeds_the_titles_itself_when_the_file_does_not_fit(
        tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    data = build_index(tmp_path / "data", write_articles(tmp_path / "kb", PRINTER_ARTICLES),
                       HashingEmbedder())
    paths = live_index(data, create=False)
    good = run_retrieval(open_assistant(data, HashingEmbedder()), "paper jam tray 2", Viewer(),
                         date(2026, 11, 25), k=3)
    if damage == "missing":
        paths.titles.unlink()
    elif damage == "garbage":
        paths.titles.write_bytes(b"PK\x03\x04 not a zip")
    else:
        title_vectors.refresh(paths.titles, ["Another title"], HashingEmbedder())

    with caplog.at_level(logging.WARNING, logger="ingest.title_vectors"):
        again = run_retrieval(open_assistant(data, HashingEmbedder()), "paper jam tray 2",
                              Viewer(), date(2026, 11, 25), k=3)

    assert f"embedding {len(PRINTER_ARTICLES)} titles now" in caplog.text
    assert [(a.article_id, a.features) for a in again.articles] == \
        [(a.article_id, a.features) for a in good.articles]
    if damage == "missing":
        assert not paths.titles.exists()  # a reader does not write it: the next ingest does


@pytest.mark.integration
def test_title_cos_is_the_cosine_with_that_articles_own_title(
        tmp_path: Path, real_embedder: object) -> None:
    """With the real model: a question asked as a title matches that title best, and the
    feature is read from the right row (rows are in catalog order, not ingest order)."""
    meta = "---\nowner: ops@northwind.example\nstatus: published\n---\n\n"
    body = ("## Resolution\n\nRun Get-CalendarDiagnosticObjects for the mailbox in Exchange "
            "Online PowerShell and read the calendar diagnostic logs it returns.\n")
    kb = write_articles(tmp_path / "kb", {
        "z/get-logs.md": meta + "# Get calendar diagnostic logs for Exchange Online mailboxes\n\n"
        + body,
        "a/analyze-logs.md": meta + "# Analyze calendar diagnostic logs for Exchange Online "
        "mailboxes\n\n" + body,
        "m/printer.md": meta + "# Printer reports a paper jam\n\n## Resolution\n\nOpen tray 2 "
        "and remove the sheet.\n"})
    data = build_index(tmp_path / "data", kb, real_embedder)
    question = "Get calendar diagnostic logs for Exchange Online mailboxes"

    found = run_retrieval(open_assistant(data, real_embedder), question, Viewer(),
                          date(2026, 11, 25), k=3)

    q = np.asarray(real_embedder.embed([question])[0])
    for art in found.articles:
        title = np.asarray(real_embedder.embed([art.title])[0])
        assert art.features["title_cos"] == pytest.approx(float(q @ title), abs=1e-4)
    by_id = {a.article_id: a.features["title_cos"] for a in found.articles}
    assert by_id["z/get-logs.md"] > by_id["a/analyze-logs.md"] > by_id.get("m/printer.md", 0)
    assert found.articles[0].article_id == "z/get-logs.md"
