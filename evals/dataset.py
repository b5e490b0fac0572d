"""Eval datasets: JSONL questions, validated on load with errors that name the line."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import KbError


class DatasetError(KbError):
    """The dataset file is malformed: the message names the line and field."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answerable: bool
    gold_articles: tuple[str, ...]
    reference_answer: str | None = None
    key_facts: tuple[str, ...] = ()
    category: str | None = None
    style: str | None = None


def load_dataset(path: Path, known_articles: Iterable[str] | None = None) -> list[Question]:
    """Read and validate a dataset; unknown gold ids are errors when known_articles is given."""
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    known = set(known_articles) if known_articles is not None else None
    questions: list[Question] = []
    seen: set[str] = set()
    problems: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not valid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            problems.append(f"{where}: expected a JSON object")
            continue
        missing = [f for f in ("id", "question", "answerable") if f not in row]
        if missing:
            problems.append(f"{where}: missing field(s) {', '.join(missing)}")
            continue
        qid = str(row["id"])
        if qid in seen:
            problems.append(f"{where}: duplicate id {qid!r}")
            continue
        seen.add(qid)
        gold = row.get("gold_articles") or []
        if not isinstance(gold, list) or not isinstance(row["answerable"], bool):
            problems.append(f"{where}: 'gold_articles' must be a list and 'answerable' a boolean")
            continue
        if row["answerable"] and not gold:
            problems.append(f"{where}: answerable question {qid!r} has no gold_articles")
            continue
        if known is not None:
            unknown = [g for g in gold if g not in known]
            if unknown:
                problems.append(f"{where}: gold article(s) not in the index: {', '.join(unknown)}")
                continue
        questions.append(Question(
            id=qid, question=str(row["question"]), answerable=row["answerable"],
            gold_articles=tuple(gold), reference_answer=row.get("reference_answer"),
            key_facts=tuple(row.get("key_facts") or ()), category=row.get("category"),
            style=row.get("style")))
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise DatasetError(f"{path}: {len(problems)} problem(s):\n  {shown}{more}")
    if not questions:
        raise DatasetError(f"{path}: no questions")
    return questions


def missing_gold(questions: Iterable[Question], known_articles: Iterable[str],
                 ) -> dict[str, tuple[str, ...]]:
    """``{question id: gold ids not in the index}``: after a KB update removed a gold article,
    the eval scores such a question as a miss and the gate reports the lost coverage."""
    known = set(known_articles)
    out = {}
    for q in questions:
        gone = tuple(g for g in q.gold_articles if g not in known)
        if gone:
            out[q.id] = gone
    return out
