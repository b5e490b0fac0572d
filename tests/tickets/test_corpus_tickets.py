"""ms_support_dev.jsonl's questions as tickets against a slice of the real corpus: the gold
articles of the first 16 questions plus 24 others, ingested with the real model; the
questions imported with ``--format jsonl`` (question as text, category kept) and measured
by ``kb coverage --tickets``."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from assistant.service import assistant_from_settings
from core.paths import live_index, state_db
from core.settings import Settings
from ingest.update import update_index
from tickets.coverage import run_coverage
from tickets.importers import read_export
from tickets.store import Ticket

pytestmark = [pytest.mark.corpus, pytest.mark.integration]
DEV = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "ms_support_dev.jsonl"
AS_OF = date(2026, 11, 25)
QUESTIONS = 16


def test_dev_questions_as_tickets(tmp_path: Path, corpus_dir: Path,
                                  corpus_manifest: list[dict[str, Any]],
                                  real_embedder: Any) -> None:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()
            if line.strip()][:QUESTIONS]
    gold = {a for r in rows for a in r["gold_articles"]}
    others = [m["article_path"] for m in corpus_manifest if m["article_path"] not in gold][:24]
    source = tmp_path / "corpus"
    for rel in sorted(gold) + others:
        if (corpus_dir / rel).is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(corpus_dir / rel, source / rel)
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    update_index(live_index(data_dir), state_db(data_dir), source, real_embedder, settings,
                 AS_OF)
    export = tmp_path / "dev.jsonl"
    export.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tickets = [t for t in read_export(export, "jsonl") if isinstance(t, Ticket)]
    assert [t.id for t in tickets] == [r["id"] for r in rows]
    assistant = assistant_from_settings(settings, real_embedder)
    try:
        summary, outcomes = run_coverage(assistant, tickets, AS_OF)
    finally:
        assistant.state.close()
    assert summary["tickets"] == QUESTIONS
    assert {r["key"] for r in summary["by_category"]} == {r["category"] for r in rows}
    answerable = {r["id"]: set(r["gold_articles"]) for r in rows if r["answerable"]}
    answered = [o for o in outcomes if o.covered]
    # kb answers most answerable questions, and from their gold article
    right = [o for o in answered if o.article_id in answerable.get(o.ticket_id, set())]
    assert len(right) >= len(answerable) // 2, summary
    assert len(right) >= 0.8 * len(answered), [(o.ticket_id, o.article_id) for o in answered]
