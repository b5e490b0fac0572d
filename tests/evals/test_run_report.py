"""Running a dataset through a system, the summary it produces, and the written reports.

The system is a table of canned runs, so every number below is worked out by hand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from evals.dataset import Question
from evals.report import write_reports
from evals.run import answer_lines, evaluate, summarise
from evals.systems import Run

SCRIPT = "<script>alert(1)</script> printer offline"
PASSAGE = "Restart the spooler service"
QUESTIONS = [
    Question("q1", "print queue stuck", True, ("a",), "restart the spooler", ("spooler",),
             "Printing", "howto"),
    Question("q2", SCRIPT, True, ("b",), None, (), "Printing", "error"),
    Question("q3", "payroll date", False, (), category="HR"),
    Question("q4", "parking permit", False, ()),
]
RUNS = {
    "print queue stuck": Run(["a", "b"], 0.9, True, "**A - Fix**\nRestart the spooler [1]",
                             ["a"], {1: PASSAGE}),
    SCRIPT: Run(["a", "b"], 0.6, True, "Call the desk [1]", ["a"], {1: PASSAGE}),
    "payroll date": Run(["c"], 0.2, False),
    "parking permit": Run(["a"], 0.7, True, "Restart the spooler [1]", ["a"], {1: PASSAGE}),
}


@pytest.fixture
def rows() -> list[dict[str, Any]]:
    progress: list[tuple[int, int]] = []
    out = evaluate(QUESTIONS, RUNS.__getitem__, lambda done, total: progress.append((done, total)))
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    for row, ms in zip(out, (10.0, 20.0, 30.0, 40.0), strict=True):
        row["latency_ms"] = ms  # measured time made fixed, so percentiles are known
    return out


@pytest.fixture
def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"command": "kb eval <set>.jsonl --out r", "dataset": "set & co.jsonl",
            "fingerprint": "fp123", "index": "/data/indexes/index-1", "as_of": "2026-11-25",
            "threshold": 0.5, **summarise(rows), "per_question": rows}


def test_answer_lines_pair_each_line_with_the_passages_it_cites() -> None:
    answer = ("**Title - Section**\nline one [1]\nline two [1] [2]\n\nno marker\n"
              "**bold [3]**")
    assert answer_lines(answer, {1: "p1", 2: "p2"}) == [
        ("line one", ["p1"]), ("line two", ["p1", "p2"]), ("no marker", []),
        ("**bold**", [])]


def test_a_code_block_is_one_line_cited_only_after_its_closing_fence() -> None:
    answer = ("Run this: [1]\n```powershell\n$e = $_.Properties[1].Value\nGet-Item x\n``` [2]\n"
              "Done [1]")
    assert answer_lines(answer, {1: "p1", 2: "p2"}) == [
        ("Run this:", ["p1"]),
        ("```powershell\n$e = $_.Properties[1].Value\nGet-Item x\n```", ["p2"]),
        ("Done", ["p1"])]


def test_per_question_scores(rows: list[dict[str, Any]]) -> None:
    q1, q2, q3, q4 = rows
    ideal_q2 = 1 / math.log2(3)  # gold b at rank 2, one gold article
    assert {k: q1[k] for k in ("recall@1", "recall@5", "hit@1", "mrr@10", "ndcg@10")} == \
        {"recall@1": 1.0, "recall@5": 1.0, "hit@1": 1.0, "mrr@10": 1.0, "ndcg@10": 1.0}
    assert {k: q2[k] for k in ("recall@1", "recall@5", "hit@1", "mrr@10")} == \
        {"recall@1": 0.0, "recall@5": 1.0, "hit@1": 0.0, "mrr@10": 0.5}
    assert q2["ndcg@10"] == pytest.approx(ideal_q2)
    # q1: cited {a} of gold {a}; "spooler" in the answer; the header line is not graded
    # token F1: answer tokens a fix restart the spooler 1 (6) vs restart the spooler (3):
    # overlap 3, P = 1/2, R = 1, F1 = 2/3
    assert (q1["citation_precision"], q1["citation_recall"], q1["key_fact_recall"],
            q1["groundedness"]) == (1.0, 1.0, 1.0, 1.0)
    assert q1["token_f1"] == pytest.approx(1.0)  # headings and [n] markers do not count
    # q2: cites a, gold b; "Call the desk" shares only "the" with the passage (1/3 < 0.6)
    assert (q2["citation_precision"], q2["citation_recall"], q2["key_fact_recall"],
            q2["token_f1"], q2["groundedness"]) == (0.0, 0.0, None, None, 0.0)
    assert "recall@1" not in q3 and "citation_precision" not in q4
    assert (q3["answered"], q4["answered"], q4["confidence"]) == (False, True, 0.7)


def test_summary(rows: list[dict[str, Any]]) -> None:
    summary = summarise(rows)
    assert summary["retrieval"] == {"recall@1": 0.5, "recall@5": 1.0, "recall@10": 1.0,
                                    "hit@1": 0.5, "mrr@10": 0.75,
                                    "ndcg@10": round((1 + 1 / math.log2(3)) / 2, 4)}
    assert summary["retrieval"]["ndcg@10"] == 0.8155
    assert summary["answers"] == {"citation_precision": 0.5, "citation_recall": 0.5,
                                  "key_fact_recall": 1.0, "token_f1": 1.0,
                                  "groundedness": 0.5, "answered_questions": 2,
                                  "key_facts_all_present": 1.0,
                                  # one line each; 5 and 3 tiktoken tokens -> median 4
                                  "median_answer_lines": 1.0, "median_answer_tokens": 4.0,
                                  "mean_first_fact_line": 1.0}  # q1's fact on line 1
    # pos (0.9, 0.6) vs neg (0.2, 0.7): 3 of 4 pairs ordered -> 0.75
    # 5th percentile of (0.6, 0.9) = 0.6 + 0.05 * 0.3 = 0.615; 0.2 is below it, 0.7 is not
    assert summary["abstention"] == {"answerable": 2, "unanswerable": 2, "auroc": 0.75,
                                     "threshold_answering_95": 0.615, "abstain_at_95": 0.5,
                                     "answer_rate_answerable": 1.0,
                                     "abstention_rate_unanswerable": 0.5}
    assert summary["latency"] == {"p50_ms": 25.0, "p95_ms": 38.5}
    assert summary["breakdowns"] == {
        "category": {"Printing": {"n": 2, "recall@1": 0.5, "mrr@10": 0.75}},
        "style": {"error": {"n": 1, "recall@1": 0.0, "mrr@10": 0.5},
                  "howto": {"n": 1, "recall@1": 1.0, "mrr@10": 1.0}}}


def test_retrieval_only_systems_get_no_answer_metrics() -> None:
    rows = evaluate(QUESTIONS[:2], lambda q: Run(["b", "a"], 0.5))
    summary = summarise(rows)
    assert summary["retrieval"]["recall@1"] == 0.5
    assert summary["answers"]["answered_questions"] == 0
    assert summary["answers"]["citation_precision"] is None
    assert "answer_rate_answerable" not in summary["abstention"]


def test_write_reports_writes_json_markdown_and_html(report: dict[str, Any],
                                                     tmp_path: Path) -> None:
    out = tmp_path / "reports" / "run1"
    write_reports(report, out)
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "report.md"]
    assert json.loads((out / "report.json").read_text()) == report

    md = (out / "report.md").read_text().splitlines()
    assert md[:3] == ["# Eval: set & co.jsonl", "", "Command: `kb eval <set>.jsonl --out r`"]
    assert "| kb | 0.5 | 1.0 | 1.0 | 0.75 | 0.8155 | 0.75 | 0.5 | 1.0 | 25.0 | 38.5 |" in md


def test_the_html_report_escapes_every_value(report: dict[str, Any], tmp_path: Path) -> None:
    write_reports(report, tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; printer offline" in page  # q2's question
    assert "<script" not in page
    assert "kb eval &lt;set&gt;.jsonl --out r" in page
    assert "<title>kb eval: set &amp; co.jsonl</title>" in page
    assert "<td>q2</td>" in page and "<td>q1</td>" not in page  # only where gold was not first


def test_by_length_groups_answerable_questions_by_their_gold_articles_length(
        rows: list[dict[str, Any]], tmp_path: Path) -> None:
    """q1's gold "a" is short (120 words), q2's gold "b" is a manual (9,000 words): q1 is found
    first, q2 second; unanswerable questions have no gold and no bucket."""
    report = summarise(rows, {"a": 120, "b": 9000})
    assert report["breakdowns"]["gold_length"] == {
        "<500": {"n": 1, "recall@1": 1.0, "recall@5": 1.0, "mrr@10": 1.0},
        ">=5k": {"n": 1, "recall@1": 0.0, "recall@5": 1.0, "mrr@10": 0.5}}
    assert "gold_length" not in summarise(rows)["breakdowns"]
    full = {**report, "command": "kb eval x --by-length", "dataset": "x.jsonl",
            "fingerprint": "f", "as_of": "2026-11-25", "per_question": rows,
            "baselines": {"bm25": summarise(rows, {"a": 9000, "b": 9000})}}
    write_reports(full, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "| gold length | n | kb | bm25 |" in md
    assert "| >=5k | 1 | 0.0 / 0.5 | 0.5 / 0.75 |" in md
