"""The regression gate: compare a report to an accepted baseline, metric by metric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: (section, metric) pairs the gate checks; higher is better for all of them
GATED = [("retrieval", "recall@1"), ("retrieval", "recall@5"), ("retrieval", "recall@10"),
         ("retrieval", "mrr@10"), ("retrieval", "ndcg@10"),
         ("answers", "key_fact_recall"), ("answers", "citation_precision"),
         ("answers", "groundedness"), ("abstention", "auroc"),
         ("abstention", "abstention_rate_unanswerable"), ("abstention", "answer_rate_answerable")]


@dataclass(frozen=True)
class Regression:
    metric: str
    before: float
    after: float
    flipped: tuple[str, ...]


def _flipped(metric: str, before: dict[str, Any], after: dict[str, Any]) -> tuple[str, ...]:
    """Question ids whose per-question value for this metric got worse."""
    key = {"recall@1": "recall@1", "recall@5": "recall@5", "recall@10": "recall@10",
           "mrr@10": "mrr@10", "ndcg@10": "ndcg@10", "key_fact_recall": "key_fact_recall",
           "citation_precision": "citation_precision", "groundedness": "groundedness"}.get(metric)
    old = {r["id"]: r for r in before.get("per_question", [])}
    out = []
    for row in after.get("per_question", []):
        prev = old.get(row["id"])
        if prev is None:
            continue
        worse = bool(key) and (row.get(key) or 0) < (prev.get(key) or 0)
        lost_answer = (metric == "answer_rate_answerable" and row["answerable"]
                       and bool(prev.get("answered")) and not row.get("answered"))
        lost_abstention = (metric == "abstention_rate_unanswerable" and not row["answerable"]
                           and not prev.get("answered") and bool(row.get("answered")))
        if worse or lost_answer or lost_abstention:
            out.append(row["id"])
    return tuple(out)


def compare(before: dict[str, Any], after: dict[str, Any], max_drop: float = 0.02,
            ) -> list[Regression]:
    """Metrics that dropped by more than ``max_drop`` (absolute), and the questions that flipped;
    any question whose gold article left the KB since ``before`` is a regression too."""
    regressions = []
    for section, metric in GATED:
        old = before.get(section, {}).get(metric)
        new = after.get(section, {}).get(metric)
        if old is None or new is None:
            continue
        if new < old - max_drop:
            regressions.append(Regression(f"{section}.{metric}", old, new,
                                          _flipped(metric, before, after)))
    lost = lost_gold(before, after)
    if lost:
        regressions.append(Regression("coverage.missing_gold", float(len(_missing(before))),
                                      float(len(_missing(after))), lost))
    return regressions


def _missing(report: dict[str, Any]) -> set[str]:
    return {m["id"] for m in report.get("coverage", {}).get("missing_gold", [])}


def lost_gold(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, ...]:
    """Questions whose gold article was in the KB before and is not now (a KB update removed
    it): lost coverage, a regression whatever the size of the metric drop."""
    asked_before = {r["id"] for r in before.get("per_question", [])}
    return tuple(sorted(q for q in _missing(after) - _missing(before)
                        if q in asked_before or not asked_before))
