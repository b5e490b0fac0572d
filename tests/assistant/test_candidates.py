"""The candidate pool: a long article whose many sections all match a question must not crowd
every other article out of it (the top chunks alone would all be the long article's)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

from assistant.service import open_assistant, run_retrieval
from assistant.types import Viewer
from ingest.embed import HashingEmbedder
from tests.assistant.helpers import build_hashing_kb, front_matter

QUESTION = "print spooler queue stuck"
META = {"owner": "ops@northwind.example", "status": "published", "last_reviewed": "2026-10-01"}


def articles() -> dict[str, str]:
    sections = "".join(f"\n## Spooler case {i}\n\nThe print spooler queue is stuck on server "
                       f"ps{i:02d}.\n" for i in range(60))
    return {
        "printing/spooler-manual.md": front_matter(title="Print server manual", **META)
        + "# Print server manual\n" + sections,
        "printing/stuck-queue.md": front_matter(title="Clear a stuck queue", **META)
        + "# Clear a stuck queue\n\n## Resolution\n\nWhen the print spooler queue is stuck on "
          "a workstation, restart the service from the services console, then delete the "
          "files in the spool folder and send the document again.\n",
    }


def test_a_long_article_does_not_crowd_out_the_others(tmp_path: Path) -> None:
    data = build_hashing_kb(tmp_path, articles())
    assistant = open_assistant(data, HashingEmbedder())
    as_of = date(2026, 11, 25)

    def found(params_articles: int) -> list[str]:
        params = replace(assistant.params, candidates=10, candidate_articles=params_articles)
        got = run_retrieval(assistant, QUESTION, Viewer(), as_of, k=5, params=params)
        return [a.article_id for a in got.articles]

    # the top 10 chunks, dense and lexical, are all the manual's: the other article is lost
    assert found(0) == ["printing/spooler-manual.md"]
    # the best chunk of each of the top articles joins them
    assert sorted(found(5)) == ["printing/spooler-manual.md", "printing/stuck-queue.md"]


def test_best_chunk_per_article_skips_masked_chunks(tmp_path: Path) -> None:
    data = build_hashing_kb(tmp_path, articles())
    index = open_assistant(data, HashingEmbedder()).index
    scores = np.arange(len(index.chunk_ids), dtype=np.float32)
    best = index.best_chunk_per_article(scores, 5)
    assert len(best) == 2
    for row in best:  # each is its article's highest-scoring chunk
        article = index.chunk_article[row]
        assert scores[row] == scores[index.chunk_article == article].max()
    manual = index.article_row["printing/spooler-manual.md"]
    scores[index.chunk_article == manual] = -np.inf
    assert [index.chunk_article[r] for r in index.best_chunk_per_article(scores, 5)] \
        == [index.article_row["printing/stuck-queue.md"]]
