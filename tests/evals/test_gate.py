"""The regression gate: which metrics dropped, by how much, and which questions flipped."""

from __future__ import annotations

import copy
from typing import Any

from evals.gate import Regression, compare


def report(recall1: float, per_question: list[dict[str, Any]], **sections: dict) -> dict:
    out: dict[str, Any] = {"retrieval": {"recall@1": recall1, "mrr@10": 0.8},
                           "answers": {"groundedness": 0.9},
                           "abstention": {"auroc": 0.9, "answer_rate_answerable": 1.0,
                                          "abstention_rate_unanswerable": 1.0},
                           "per_question": per_question}
    for name, values in sections.items():
        out[name] = {**out[name], **values}
    return out


def row(qid: str, answerable: bool = True, answered: bool = True, **values: float) -> dict:
    return {"id": qid, "answerable": answerable, "answered": answered, **values}


BEFORE = report(0.75, [row("q1", **{"recall@1": 1.0}), row("q2", **{"recall@1": 1.0}),
                       row("q3", **{"recall@1": 1.0}), row("q4", **{"recall@1": 0.0})])


def test_a_drop_larger_than_max_drop_names_metric_values_and_flipped_questions() -> None:
    after = report(0.5, [row("q1", **{"recall@1": 1.0}), row("q2", **{"recall@1": 0.0}),
                         row("q3", **{"recall@1": 0.0}), row("q4", **{"recall@1": 1.0})])
    assert compare(BEFORE, after, max_drop=0.02) == [
        Regression("retrieval.recall@1", 0.75, 0.5, ("q2", "q3"))]


def test_a_drop_of_exactly_max_drop_passes() -> None:
    after = report(0.5, BEFORE["per_question"])
    assert compare(BEFORE, after, max_drop=0.25) == []
    assert [r.metric for r in compare(BEFORE, after, max_drop=0.24)] == ["retrieval.recall@1"]


def test_improvements_and_equal_reports_pass() -> None:
    assert compare(BEFORE, copy.deepcopy(BEFORE)) == []
    assert compare(BEFORE, report(1.0, BEFORE["per_question"])) == []


def test_metrics_missing_on_either_side_are_not_compared() -> None:
    after = report(0.1, [])
    del after["retrieval"]["recall@1"]
    assert compare(BEFORE, after) == []
    assert compare({"per_question": []}, BEFORE) == []


def test_answer_rate_flips_are_answerable_questions_no_longer_answered() -> None:
    before = report(0.75, [row("q1"), row("q2"), row("u1", answerable=False, answered=False)])
    after = report(0.75, [row("q1", answered=False), row("q2"),
                          row("u1", answerable=False, answered=True)],
                   abstention={"answer_rate_answerable": 0.5,
                               "abstention_rate_unanswerable": 0.0})
    assert compare(before, after) == [
        Regression("abstention.abstention_rate_unanswerable", 1.0, 0.0, ("u1",)),
        Regression("abstention.answer_rate_answerable", 1.0, 0.5, ("q1",)),
    ]


def test_aggregate_only_metrics_regress_without_flipped_questions() -> None:
    after = report(0.75, BEFORE["per_question"], abstention={"auroc": 0.7})
    assert compare(BEFORE, after) == [Regression("abstention.auroc", 0.9, 0.7, ())]


def test_questions_new_in_the_report_are_not_flips() -> None:
    after = report(0.5, [*BEFORE["per_question"], row("q9", **{"recall@1": 0.0})])
    assert compare(BEFORE, after) == [Regression("retrieval.recall@1", 0.75, 0.5, ())]


def test_a_missing_per_question_value_counts_as_zero() -> None:
    before = report(0.9, [row("q1", groundedness=1.0)])
    after = report(0.9, [row("q1")], answers={"groundedness": 0.0})
    assert compare(before, after) == [Regression("answers.groundedness", 0.9, 0.0, ("q1",))]


def test_compare_does_not_change_the_reports() -> None:
    after = report(0.5, [row("q2", **{"recall@1": 0.0})])
    snapshot = copy.deepcopy((BEFORE, after))
    compare(BEFORE, after)
    assert (BEFORE, after) == snapshot

