"""Run a dataset through a system and compute every metric: the eval's JSON report."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from evals import metrics as m
from evals.dataset import Question
from evals.systems import Run, System
from ingest.tokens import count_tokens

_MARK = re.compile(r"\s*\[(\d+)\]")


def _answer_units(answer: str) -> list[str]:
    """Answer lines, a fenced code block (its marker after the closing fence) or a pipe table
    (its marker after the last row) as one."""
    out: list[str] = []
    block: list[str] | None = None
    for line in answer.split("\n"):
        if block is not None:
            block.append(line)
            if line.lstrip().startswith("```"):
                out.append("\n".join(block))
                block = None
        elif line.lstrip().startswith("```"):
            block = [line]
        elif line.startswith("|") and out and out[-1].startswith("|"):
            out[-1] += "\n" + line  # a pipe table is one unit too
        else:
            out.append(line)
    return out + (["\n".join(block)] if block else [])


def answer_lines(answer: str, passages: dict[int, str]) -> list[tuple[str, list[str]]]:
    """Each answer line (a code block is one) without markers, with the texts of the
    passages it cites."""
    out = []
    for line in _answer_units(answer):
        # in a code block only the marker after the closing fence cites: `arr[1]` is code
        tail = line.rsplit("\n", 1)[-1] if line.lstrip().startswith("```") else line
        marks = [int(n) for n in _MARK.findall(tail)]
        text = (line[:len(line) - len(tail)] + _MARK.sub("", tail)).strip()
        if not text or (line.startswith("**") and not marks):
            continue
        out.append((text, [passages[n] for n in marks if n in passages]))
    return out


def plain_answer(answer: str) -> str:
    """The answer's text without citation markers and passage headings."""
    return "\n".join(text for text, _ in answer_lines(answer, {}))


def score_question(q: Question, run: Run, seconds: float) -> dict[str, Any]:
    gold = set(q.gold_articles)
    row: dict[str, Any] = {
        "id": q.id, "question": q.question, "answerable": q.answerable,
        "category": q.category, "style": q.style, "gold_articles": list(q.gold_articles),
        "retrieved": run.ranked, "confidence": round(run.confidence, 4),
        "answered": run.answered, "answer": run.answer, "cited_articles": run.cited_articles,
        "latency_ms": round(seconds * 1000, 1),
    }
    if q.answerable:
        row.update({f"recall@{k}": m.recall_at(run.ranked, gold, k) for k in (1, 5, 10)})
        row.update({"hit@1": m.hit_at(run.ranked, gold, 1), "mrr@10": m.mrr_at(run.ranked, gold),
                    "ndcg@10": m.ndcg_at(run.ranked, gold)})
        if run.answered is not None and run.answered:
            precision, recall = m.citation_precision_recall(run.cited_articles, gold)
            shown = [text for text, _ in answer_lines(run.answer, {})]
            row.update({"answer_lines": len(shown),
                        "answer_tokens": count_tokens("\n".join(shown)),
                        "first_fact_line": m.first_fact_line(shown, q.key_facts)
                        if q.key_facts else None,
                        "citation_precision": precision, "citation_recall": recall,
                        "key_fact_recall": m.key_fact_recall(run.answer, q.key_facts)
                        if q.key_facts else None,
                        "token_f1": m.token_f1(plain_answer(run.answer), q.reference_answer)
                        if q.reference_answer else None,
                        "groundedness": m.groundedness(answer_lines(run.answer,
                                                                    run.cited_passages))})
    return row


def evaluate(questions: Sequence[Question], system: System,
             on_progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    rows = []
    for number, q in enumerate(questions, start=1):
        started = time.perf_counter()
        run = system(q.question)
        rows.append(score_question(q, run, time.perf_counter() - started))
        if on_progress:
            on_progress(number, len(questions))
    return rows


def _mean_of(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(m.mean(values), 4) if values else None


def abstention_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    pos = [r["confidence"] for r in rows if r["answerable"]]
    neg = [r["confidence"] for r in rows if not r["answerable"]]
    threshold95 = m.percentile(pos, 5) if pos else 0.0
    out: dict[str, Any] = {
        "answerable": len(pos), "unanswerable": len(neg),
        "auroc": round(m.auroc(pos, neg), 4),
        "threshold_answering_95": round(threshold95, 4),
        "abstain_at_95": round(m.mean([1.0 if c < threshold95 else 0.0 for c in neg]), 4),
    }
    answered = [r for r in rows if r["answered"] is not None]
    if answered:
        out["answer_rate_answerable"] = round(m.mean(
            [1.0 if r["answered"] else 0.0 for r in answered if r["answerable"]]), 4)
        out["abstention_rate_unanswerable"] = round(m.mean(
            [0.0 if r["answered"] else 1.0 for r in answered if not r["answerable"]]), 4)
    return out


#: word-count buckets of ``--by-length`` (lower bounds): short notes to whole manuals
LENGTH_BUCKETS = ((0, "<500"), (500, "500-2k"), (2000, "2k-5k"), (5000, ">=5k"))


def length_bucket(words: int) -> str:
    return next(name for floor, name in reversed(LENGTH_BUCKETS) if words >= floor)


def summarise(rows: list[dict[str, Any]],
              lengths: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Every metric of the rows; with ``lengths`` (words per article) also a breakdown of the
    answerable questions by their gold article's length."""
    ans = [r for r in rows if r["answerable"]]
    retrieval = {k: _mean_of(ans, k) for k in ("recall@1", "recall@5", "recall@10", "hit@1",
                                               "mrr@10", "ndcg@10")}
    answered = [r for r in ans if r.get("answered")]
    answers = {k: _mean_of(answered, k) for k in ("citation_precision", "citation_recall",
                                                  "key_fact_recall", "token_f1", "groundedness")}
    answers["answered_questions"] = len(answered)
    for key in ("answer_lines", "answer_tokens"):
        answers[f"median_{key}"] = m.median([r[key] for r in answered if key in r])
    answers["mean_first_fact_line"] = _mean_of(answered, "first_fact_line")
    with_facts = [r for r in answered if r.get("key_fact_recall") is not None]
    answers["key_facts_all_present"] = round(m.mean(
        [1.0 if r["key_fact_recall"] == 1.0 else 0.0 for r in with_facts]), 4) \
        if with_facts else None
    latencies = [r["latency_ms"] for r in rows]
    return {"retrieval": retrieval, "answers": answers, "abstention": abstention_summary(rows),
            "latency": {"p50_ms": round(m.percentile(latencies, 50), 1),
                        "p95_ms": round(m.percentile(latencies, 95), 1)},
            "breakdowns": breakdowns(rows, lengths)}


def breakdowns(rows: list[dict[str, Any]], lengths: Mapping[str, int] | None = None,
               ) -> dict[str, dict[str, dict[str, float | None]]]:
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    if lengths is not None:
        by_length: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            if r["answerable"] and r["gold_articles"]:
                longest = max(lengths.get(a, 0) for a in r["gold_articles"])
                by_length[length_bucket(longest)].append(r)
        order = [name for _, name in LENGTH_BUCKETS]
        out["gold_length"] = {
            name: {"n": len(g), "recall@1": _mean_of(g, "recall@1"),
                   "recall@5": _mean_of(g, "recall@5"), "mrr@10": _mean_of(g, "mrr@10")}
            for name, g in sorted(by_length.items(), key=lambda kv: order.index(kv[0]))}
    for field in ("category", "style"):
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            if r["answerable"] and r.get(field):
                groups[r[field]].append(r)
        if groups:
            out[field] = {name: {"n": len(g), "recall@1": _mean_of(g, "recall@1"),
                                 "mrr@10": _mean_of(g, "mrr@10")}
                          for name, g in sorted(groups.items())}
    return out
