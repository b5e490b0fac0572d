"""Extractive answers: which passages are quoted, how they are cited, when to abstain."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.answer import (
    NOT_COVERED,
    answer_json,
    citation_url,
    extractive_answer,
    stale_note,
)
from assistant.service import Assistant, ask, open_assistant, run_retrieval
from assistant.types import ArticleHit, Citation, Hit, Retrieval, Viewer
from core.store import catalog
from evals.dataset import load_dataset
from evals.metrics import supported
from evals.run import _answer_units, answer_lines
from ingest.embed import HashingEmbedder
from tests.assistant.helpers import (
    REFERENCE_DATE,
    SAMPLES_DATASET,
    build_hashing_kb,
    gap_questions,
    with_state,
)

JAM = "printing/paper-jam.md"
TONER = "printing/toner.md"


@pytest.fixture
def printer(tmp_path: Path) -> Assistant:
    return open_assistant(build_hashing_kb(tmp_path), HashingEmbedder(), threshold=0.0)


def chunk_hit(assistant: Assistant, article_id: str, section: str, score: float) -> Hit:
    """A Hit for a real chunk of the catalog, as retrieval would return it."""
    cid, (_, position, _, anchor, text) = next(
        (cid, row) for cid, row in catalog.chunks_of(assistant.index.conn, article_id)
        if row[2] == (section,))
    facts = assistant.index.articles[assistant.index.article_row[article_id]]
    return Hit(cid, article_id, facts.title, (section,), anchor, text, position, score,
               dense=score, url=facts.url, last_reviewed=facts.last_reviewed)


def retrieval_of(*articles: tuple[Hit, float], confidence: float = 0.9) -> Retrieval:
    return Retrieval("paper jam", tuple(ArticleHit(h.article_id, h.title, s, (h,))
                                        for h, s in articles), confidence)


def test_citation_url_points_at_the_section() -> None:
    hit = Hit("c1", "printing/toner.md", "Toner", ("Steps",), "steps", "text", 0, 1.0)
    assert citation_url(hit, None) == "/articles/printing/toner.md#steps"
    assert citation_url(hit, "https://kb.example/toner") == "https://kb.example/toner#steps"
    intro = Hit("c2", "a.md", "A", (), "", "text", 0, 1.0)
    assert citation_url(intro, None) == "/articles/a.md"


def test_citation_urls_pass_on_only_web_links_and_keep_odd_ids_intact() -> None:
    hit = Hit("c1", "a/../../etc/passwd", "T", ("Steps",), "steps", "text", 0, 1.0)
    for url in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "//evil",
                "file:///etc/passwd"):
        assert citation_url(hit, url) == "/articles/a/%2E%2E/%2E%2E/etc/passwd#steps", url
    odd = Hit("c2", "net work/a#b?.md", "T", (), "", "text", 0, 1.0)
    assert citation_url(odd, None) == "/articles/net%20work/a%23b%3F.md"


def test_a_symptom_match_is_answered_with_the_resolution_then_a_close_second(
        printer: Assistant) -> None:
    top = chunk_hit(printer, JAM, "Symptoms", 1.0)
    second = chunk_hit(printer, TONER, "Steps", 0.95)
    answer = extractive_answer(retrieval_of((top, 1.0), (second, 0.95)), printer.index.conn,
                               threshold=0.5)

    assert answer.answered
    assert answer.answer == "\n".join([
        "**Printer reports a paper jam - Resolution**",
        "1. Open tray 2 and remove the creased sheets. [1]",
        "2. Open the rear door and pull out any torn paper. [1]",
        "3. Close the door and press OK on the printer panel. [1]",
        "**Printer toner is low - Steps**",
        "1. Order a toner cartridge from the portal. [2]",
        "2. Replace the cartridge when the printer says so. [2]",
    ])
    assert [(c.n, c.article_id, c.section, c.url) for c in answer.citations] == [
        (1, JAM, "Resolution", f"/articles/{JAM}#resolution"),
        (2, TONER, "Steps", f"/articles/{TONER}#steps"),
    ]
    assert answer.citations[0].text.startswith("1. Open tray 2")
    assert answer.related == ({"article_id": TONER, "title": "Printer toner is low",
                               "url": f"/articles/{TONER}#steps"},)
    assert answer.note is None


def test_a_best_passage_outside_the_symptoms_is_quoted_before_the_resolution(
        printer: Assistant) -> None:
    sections = [list(row[2]) for _, row in catalog.chunks_of(printer.index.conn, JAM)]
    assert ["Cause"] in sections or ["Resolution"] in sections
    top = chunk_hit(printer, JAM, "Resolution", 1.0)
    answer = extractive_answer(retrieval_of((top, 1.0)), printer.index.conn, threshold=0.5)
    assert answer.answer.splitlines()[0] == "**Printer reports a paper jam - Resolution**"
    assert [c.section for c in answer.citations] == ["Resolution"]


def test_a_distant_second_article_is_not_quoted(printer: Assistant) -> None:
    top = chunk_hit(printer, JAM, "Resolution", 1.0)
    second = chunk_hit(printer, TONER, "Steps", 0.5)
    answer = extractive_answer(retrieval_of((top, 1.0), (second, 0.5)), printer.index.conn, 0.5)
    assert {c.article_id for c in answer.citations} == {JAM}
    assert [c.section for c in answer.citations] == ["Resolution"]  # not quoted twice


def test_below_the_threshold_it_abstains_and_lists_up_to_three_related_above_the_floor(
        printer: Assistant) -> None:
    from dataclasses import replace

    hits = [chunk_hit(printer, JAM, s, 1.0) for s in ("Symptoms", "Cause", "Resolution")]
    closeness = (0.8, 0.7, 0.46, 0.44, 0.9)  # cosine of each article's best passage
    articles = tuple(ArticleHit(f"a{i}.md", f"A{i}", 1.0 - i / 10,
                                (replace(hits[i % 3], dense=closeness[i]),))
                     for i in range(5))
    answer = extractive_answer(Retrieval("q", articles, 0.49), printer.index.conn, 0.5)
    assert (answer.answered, answer.answer, answer.citations, answer.confidence) == (
        False, NOT_COVERED, (), 0.49)
    assert [r["title"] for r in answer.related] == ["A0", "A1", "A2"]
    floor_0_5 = extractive_answer(Retrieval("q", articles, 0.49), printer.index.conn, 0.5,
                                  related_floor=0.5)
    assert [r["title"] for r in floor_0_5.related] == ["A0", "A1"]  # A2 is 0.46: noise


def test_nothing_retrieved_abstains_with_nothing_related() -> None:
    answer = extractive_answer(Retrieval("q", (), 0.0), None, 0.5)  # type: ignore[arg-type]
    assert (answer.answered, answer.answer, answer.related) == (False, NOT_COVERED, ())


def test_stale_note_names_every_stale_citation() -> None:
    def cite(n: int, stale: bool, reason: str | None = None) -> Citation:
        return Citation(n, "a.md", "A", "S", "/a", None, stale, "", stale_reason=reason)

    assert stale_note([cite(1, False)]) is None
    assert stale_note([cite(1, False), cite(2, True, "no review date"), cite(3, True)]) == (
        "Warning: [2], [3] cites an article that may be out of date (no review date); "
        "verify first.")
    assert stale_note([cite(1, True)]) == ("Warning: [1] cites an article that may be out of "
                                           "date (it is past its review date); verify first.")


def test_answer_json_has_the_api_shape(printer: Assistant) -> None:
    answer = ask(printer, "paper jam in tray 2", Viewer(), REFERENCE_DATE, record=False)
    shown = answer_json(answer)
    assert set(shown) == {"answered", "answer", "confidence", "citations", "related", "note",
                          "escalation", "other_cases"}
    assert set(shown["citations"][0]) == {"n", "article_id", "title", "section", "url",
                                          "last_reviewed", "stale", "stale_reason", "snippet",
                                          "warning"}
    assert json.loads(json.dumps(shown)) == shown


# --- on the sample KB, with the real model ------------------------------------------------

UNCOVERED = ["what is the recipe for sourdough bread",
             "excel vlookup returns #N/A even though the value is there",
             "how do I get a parking permit for the London car park"]
#: a citation marker: ``[n]`` not glued to a word (``$_.Properties[0]`` in a command is not one)
MARKER = re.compile(r"(?<!\w)\[(\d+)\]")


@pytest.mark.integration
@pytest.mark.parametrize("question", UNCOVERED)
def test_a_question_the_kb_does_not_cover_is_declined_and_recorded(
        sample_assistant: Assistant, tmp_path: Path, question: str) -> None:
    assistant = with_state(sample_assistant, tmp_path / "state.sqlite")
    answer = ask(assistant, question, Viewer(), REFERENCE_DATE, asked_by="agent7")

    assert answer.answered is False
    assert answer.answer == "The knowledge base doesn't cover this."
    assert answer.citations == ()
    assert len(answer.related) <= 3  # and only above the relevance floor: none is fine
    assert all(a.features["dense"] >= assistant.related_floor for a in run_retrieval(
        assistant, question, Viewer(), REFERENCE_DATE).articles
        if a.article_id in {r["article_id"] for r in answer.related})
    assert answer.confidence < assistant.threshold
    assert gap_questions(assistant.state) == [question]
    row = assistant.state.execute("SELECT reason, asked_by, confidence FROM gaps").fetchone()
    assert tuple(row) == ("not_covered", "agent7", answer.confidence)


@pytest.mark.integration
def test_an_answered_question_records_no_gap(sample_assistant: Assistant,
                                             tmp_path: Path) -> None:
    assistant = with_state(sample_assistant, tmp_path / "state.sqlite")
    answer = ask(assistant, "error 809 vpn", Viewer(), REFERENCE_DATE)
    assert answer.answered
    assert gap_questions(assistant.state) == []


@pytest.mark.integration
def test_every_marker_points_at_a_citation_and_every_line_is_supported_by_it(
        sample_assistant: Assistant) -> None:
    questions = [q for q in load_dataset(SAMPLES_DATASET) if q.answerable][:15]
    conn = sample_assistant.index.conn
    answered = 0
    for q in questions:
        answer = ask(sample_assistant, q.question, Viewer(), REFERENCE_DATE, record=False)
        if not answer.answered:
            continue
        answered += 1
        assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
        units = _answer_units(answer.answer)  # a code block is one, cited after its fence
        markers = {int(n) for u in units for n in MARKER.findall(u.rsplit("\n", 1)[-1])}
        assert markers == {c.n for c in answer.citations}, q.id
        for line in units:
            ends = re.fullmatch(r"\*\*.+\*\*|.+ \[(\d+)\]", line, re.S)
            assert ends and (ends.group(1) is None or int(ends.group(1)) in markers), line
        passages = {c.n: c.text for c in answer.citations}
        for line, cited in answer_lines(answer.answer, passages):
            assert cited, (q.id, line)
            assert any(supported(line, p) for p in cited), (q.id, line)
        for c in answer.citations:
            article_id, _, _, anchor, text = dict(catalog.chunks_of(conn, c.article_id))[
                c.chunk_id]
            assert article_id == c.article_id and c.text.startswith(text)  # + same section
            assert c.snippet == c.text[:300]
            assert c.url.endswith(f"#{anchor}") or not anchor
    assert answered >= 12
