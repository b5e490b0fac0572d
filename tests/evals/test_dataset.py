"""Eval datasets: loaded into Questions, or rejected with errors that name the line and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import KbError
from evals.dataset import DatasetError, Question, load_dataset
from ingest.run import discover

REPO = Path(__file__).resolve().parents[2]
KNOWN = ["network/vpn.md", "email/outlook.md"]
GOOD = {"id": "q1", "question": "vpn drops", "answerable": True,
        "gold_articles": ["network/vpn.md"]}


def write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line)
                              for line in lines) + "\n", encoding="utf-8")
    return path


def problems(path: Path, known: list[str] | None = KNOWN) -> str:
    with pytest.raises(DatasetError) as caught:
        load_dataset(path, known)
    return str(caught.value)


def test_a_valid_dataset_loads_every_field(tmp_path: Path) -> None:
    path = write(tmp_path, {**GOOD, "reference_answer": "Reset it.", "key_facts": ["reset"],
                            "category": "Network", "style": "symptom"},
                 "",
                 {"id": 2, "question": "payroll date", "answerable": False})
    assert load_dataset(path, KNOWN) == [
        Question("q1", "vpn drops", True, ("network/vpn.md",), "Reset it.", ("reset",),
                 "Network", "symptom"),
        Question("2", "payroll date", False, ()),
    ]


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    message = problems(write(tmp_path, GOOD, '{"id": "q2", "question": "x",'))
    assert "set.jsonl line 2: not valid JSON" in message
    assert "1 problem(s)" in message


def test_a_line_that_is_not_an_object_is_rejected(tmp_path: Path) -> None:
    assert "set.jsonl line 1: expected a JSON object" in problems(write(tmp_path, [1, 2]))


def test_missing_fields_are_named(tmp_path: Path) -> None:
    message = problems(write(tmp_path, GOOD, {"id": "q2"}, {"question": "x", "answerable": True,
                                                           "gold_articles": KNOWN[:1]}))
    assert "set.jsonl line 2: missing field(s) question, answerable" in message
    assert "set.jsonl line 3: missing field(s) id" in message
    assert "2 problem(s)" in message


def test_duplicate_ids_name_the_second_line(tmp_path: Path) -> None:
    message = problems(write(tmp_path, GOOD, {**GOOD, "question": "again"}))
    assert "set.jsonl line 2: duplicate id 'q1'" in message


def test_unknown_gold_articles_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, {**GOOD, "gold_articles": ["network/vpn.md", "gone.md", "nope.md"]})
    assert "set.jsonl line 1: gold article(s) not in the index: gone.md, nope.md" in \
        problems(path)
    assert load_dataset(path)[0].gold_articles == ("network/vpn.md", "gone.md", "nope.md")


@pytest.mark.parametrize("gold", [[], None])
def test_an_answerable_question_needs_gold_articles(tmp_path: Path, gold: object) -> None:
    row = {**GOOD, "gold_articles": gold}
    assert "set.jsonl line 1: answerable question 'q1' has no gold_articles" in \
        problems(write(tmp_path, row))


@pytest.mark.parametrize("row", [{**GOOD, "gold_articles": "network/vpn.md"},
                                 {**GOOD, "answerable": "yes"}])
def test_wrong_types_are_named(tmp_path: Path, row: dict) -> None:
    assert ("set.jsonl line 1: 'gold_articles' must be a list and 'answerable' a boolean"
            in problems(write(tmp_path, row)))


def test_every_problem_is_reported_at_once_up_to_twenty(tmp_path: Path) -> None:
    path = write(tmp_path, *([GOOD] * 23))
    message = problems(path)
    assert "22 problem(s)" in message
    assert "line 21: duplicate id" in message and "line 22:" not in message
    assert message.endswith("... and 2 more")


def test_an_empty_or_missing_file_is_an_error(tmp_path: Path) -> None:
    assert problems(write(tmp_path, "", "  ")).endswith("set.jsonl: no questions")
    assert problems(tmp_path / "absent.jsonl").endswith("absent.jsonl: no such file")


def test_dataset_errors_are_kb_errors() -> None:
    assert issubclass(DatasetError, KbError)  # the CLI turns them into one line and exit 2


def test_the_shipped_kb_samples_set_is_valid_against_kb_samples() -> None:
    known = [p.relative_to(REPO / "kb_samples").as_posix() for p in discover(REPO / "kb_samples")]
    questions = load_dataset(REPO / "evals" / "datasets" / "kb_samples.jsonl", known)
    assert len(questions) == 64
    assert sum(q.answerable for q in questions) == 50
    assert all(q.gold_articles for q in questions if q.answerable)


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["ms_support_dev", "ms_support_honest", "ms_support_long"])
def test_the_corpus_sets_name_only_corpus_articles_and_facts_they_hold(
        name: str, corpus_dir: Path, corpus_manifest: list[dict[str, Any]]) -> None:
    """Every gold article is a corpus article, and every key fact is in one of them."""
    known = [row["article_path"] for row in corpus_manifest]
    questions = load_dataset(REPO / "evals" / "datasets" / f"{name}.jsonl", known)
    assert any(not q.answerable for q in questions)
    for q in questions:
        texts = [(corpus_dir / a).read_text(encoding="utf-8").lower() for a in q.gold_articles]
        for fact in q.key_facts:
            assert any(fact.lower() in t for t in texts), (q.id, fact)
