"""Evaluate one index on one dataset: what ``kb eval`` prints and writes, as a library call.

    report = eval_index(live_index(data_dir), Path("evals/datasets/kb_samples.jsonl"),
                        embedder, settings, date(2026, 11, 25), command="kb eval ...")
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from assistant.service import assistant_from_settings
from core.paths import IndexPaths
from core.settings import Settings
from core.store import catalog
from evals.coverage import coverage
from evals.dataset import load_dataset, missing_gold
from evals.gate import compare
from evals.run import evaluate, summarise
from evals.systems import bm25_system, dense_system, kb_system
from ingest.embed import Embedder

log = logging.getLogger(__name__)
GOLD_GONE = "gold article no longer in the KB"


def eval_index(paths: IndexPaths, dataset: Path, embedder: Embedder, settings: Settings,
               as_of: date, with_baselines: bool = False, limit: int | None = None,
               command: str = "", progress: Callable[[int, int], None] | None = None,
               by_length: bool = False) -> dict[str, Any]:
    """The JSON report (the stable contract in the README) of kb on ``dataset``, with the
    BM25, dense and naive LangChain baselines on the same index if asked, and with
    ``by_length`` a breakdown by the gold article's length (``breakdowns.gold_length``)."""
    assistant = assistant_from_settings(settings, embedder, paths=paths)
    index = assistant.index
    questions = load_dataset(dataset)
    if limit:
        questions = questions[:limit]
    missing = missing_gold(questions, index.article_row.keys())
    if missing:
        log.warning("%d question(s) scored as misses, %s: %s", len(missing), GOLD_GONE,
                    "; ".join(f"{qid} ({', '.join(ids)})" for qid, ids in missing.items()))
    lengths = catalog.article_words(index.conn) if by_length else None
    embedder.embed(["warm-up"])  # load the model before timing, so latency is per question
    rows = evaluate(questions, kb_system(assistant, as_of), progress)
    for row in rows:
        if row["id"] in missing:
            row.update(missing_gold=list(missing[row["id"]]), note=GOLD_GONE)
    check = assistant.stale_check(as_of)
    stale = {a.id for a in index.articles if check(a.id)[0]}
    report: dict[str, Any] = {
        "command": command, "dataset": str(dataset), "fingerprint": index.fingerprint,
        "index": str(paths.root), "as_of": as_of.isoformat(), "threshold": assistant.threshold,
        **summarise(rows, lengths), "coverage": {
            **coverage(rows, index, stale, as_of),
            "missing_gold": [{"id": qid, "articles": list(ids), "reason": GOLD_GONE}
                             for qid, ids in missing.items()]},
        "per_question": rows}
    if with_baselines:
        from evals.naive import naive_system

        report["baselines"] = {}
        for name, system in (("bm25", bm25_system(assistant, as_of)),
                             ("dense", dense_system(assistant, as_of)),
                             ("naive-langchain", naive_system(paths, index, embedder, as_of))):
            summary = summarise(evaluate(questions, system), lengths)
            summary["breakdowns"] = {k: v for k, v in summary["breakdowns"].items()
                                     if k == "gold_length"}
            report["baselines"][name] = summary
    return report


def gate(report: dict[str, Any], before: dict[str, Any] | None, compared_to: str | None,
         max_drop: float) -> dict[str, Any]:
    """The gate verdict added to a report: every metric that dropped by more than
    ``max_drop`` against ``before`` (nothing to compare: passed)."""
    regressions = compare(before, report, max_drop) if before else []
    return {"compared_to": compared_to, "max_drop": max_drop, "passed": not regressions,
            "regressions": [r.__dict__ for r in regressions]}
