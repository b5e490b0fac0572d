"""Demand coverage on kb_samples (HashingEmbedder): the same rule as ``kb ask``, the
requester's groups, batch embedding, the breakdowns, the stored run."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from assistant.service import Assistant, ask, assistant_from_settings
from assistant.types import Viewer
from core.settings import Settings
from core.store import state as state_store
from ingest.embed import HashingEmbedder
from tests.assistant.web.fast_app import build_data_dir
from tickets.coverage import breakdown, embed_texts, query_text, run_coverage, since_filter
from tickets.importers import read_export
from tickets.store import Ticket, last_run, outcomes, save_run

SAMPLES = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "tickets"
AS_OF = date(2026, 11, 25)
EXIT = "Confidential same-day exit: IT actions for HR"


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str], progress: bool = False) -> list[list[float]]:
        self.calls.append(len(texts))
        return super().embed(texts, progress)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_data_dir(tmp_path_factory.mktemp("coverage"))


@pytest.fixture
def assistant(data_dir: Path) -> Iterator[Assistant]:
    opened = assistant_from_settings(Settings(data_dir=data_dir, embedder="hashing"),
                                     CountingEmbedder())
    yield opened
    opened.state.close()


def sample_tickets() -> list[Ticket]:
    return [t for t in read_export(SAMPLES / "kb_samples_servicenow.csv")
            if isinstance(t, Ticket)]


def test_covered_is_what_kb_ask_would_do(assistant: Assistant) -> None:
    tickets = sample_tickets() + [Ticket("HR-1", EXIT, groups=("hr",)), Ticket("ALL-1", EXIT)]
    summary, done = run_coverage(assistant, tickets, AS_OF)
    assert 0 < summary["covered"] < len(tickets)  # both outcomes occur
    for ticket, outcome in zip(tickets, done, strict=True):
        answer = ask(assistant, query_text(ticket), Viewer(frozenset(ticket.groups)), AS_OF,
                     record=False)
        assert outcome.covered == answer.answered, ticket.id
        assert outcome.confidence == answer.confidence
        assert outcome.article_id == (answer.citations[0].article_id if answer.answered
                                      else None)
    # the requester's groups decide which articles may answer
    by_id = {o.ticket_id: o for o in done}
    assert by_id["HR-1"].article_id == "onboarding/leaver-process-confidential.md"
    assert by_id["ALL-1"].article_id == "onboarding/leaver-process.md"
    assert summary["covered"] == sum(o.covered for o in done)
    assert summary["share"] == round(summary["covered"] / len(tickets), 4)


def test_tickets_are_embedded_in_batches(assistant: Assistant) -> None:
    tickets = sample_tickets() * 2  # 104 texts: a batch of 64, then 40
    summary, _ = run_coverage(assistant, tickets, AS_OF)
    # one warm-up text, then the batches; retrieval never embeds a ticket on its own
    assert assistant.embedder.calls == [1, 64, 40]  # type: ignore[attr-defined]
    assert summary["embedding"]["tickets_per_s"] > 0
    embedded = embed_texts(HashingEmbedder(), ["a b"] * 130, batch=64)
    assert embedded.vectors.shape == (130, 64)


def test_top_articles_and_topics(assistant: Assistant) -> None:
    summary, done = run_coverage(assistant, sample_tickets(), AS_OF)
    tops = summary["top_articles"]
    answering = [o.article_id for o in done if o.covered]
    assert len(tops) == min(20, len(set(answering)))
    assert all(a["tickets"] == answering.count(a["article_id"]) for a in tops)
    assert [a["tickets"] for a in tops] == sorted((a["tickets"] for a in tops), reverse=True)
    flagged = {a["article_id"]: a["flags"] for a in tops}
    assert all(isinstance(f, list) for f in flagged.values())
    uncovered = {o.ticket_id for o in done if not o.covered}
    for cluster in summary["clusters"]:
        assert {e["id"] for e in cluster["examples"]} <= uncovered
        assert len(cluster["examples"]) == min(5, cluster["size"])
        assert cluster["terms"] and cluster["nearest"]
        assert cluster["share"] == round(cluster["size"] / 52, 4)
    in_topics = sum(c["size"] for c in summary["clusters"])
    assert in_topics + summary["clustering"]["unclustered"] == len(uncovered)
    assert sum(o.cluster is not None for o in done) == in_topics


def test_breakdown_by_hand() -> None:
    tickets = [Ticket("1", "a", category="Email"), Ticket("2", "b", category="Email"),
               Ticket("3", "c", category="Network"), Ticket("4", "d")]
    rows = breakdown(tickets, [True, False, True, False], lambda t: t.category)
    assert rows == [{"key": "Email", "tickets": 2, "covered": 1, "share": 0.5},
                    {"key": "(none)", "tickets": 1, "covered": 0, "share": 0.0},
                    {"key": "Network", "tickets": 1, "covered": 1, "share": 1.0}]


def test_since() -> None:
    tickets = [Ticket("1", "a", opened_at="2026-10-31T23:59:59"),
               Ticket("2", "b", opened_at="2026-11-01T00:00:00"), Ticket("3", "c")]
    assert [t.id for t in since_filter(tickets, date(2026, 11, 1))] == ["2"]
    assert len(since_filter(tickets, None)) == 3


def test_the_last_run_is_stored(tmp_path: Path, assistant: Assistant) -> None:
    summary, done = run_coverage(assistant, sample_tickets()[:10], AS_OF)
    with closing(state_store.connect(tmp_path / "state.sqlite")) as conn:
        assert last_run(conn) is None
        first = save_run(conn, {"run_at": "x", "tickets": 1}, done[:1])
        second = save_run(conn, summary, done)
        stored: dict[str, Any] | None = last_run(conn)
        assert stored is not None and stored["run_id"] == second == first + 1
        assert stored["tickets"] == 10 and stored["clusters"] == summary["clusters"]
        assert outcomes(conn) == {o.ticket_id: o for o in done}
