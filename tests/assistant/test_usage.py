"""Usage signals: negative feedback counts answers, not votes plus reports."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from assistant import review_queue, usage
from assistant.types import Answer, Citation
from core.store import state as state_store

VPN = "network/vpn-drops.md"
PRINTER = "printing/spooler.md"


@pytest.fixture
def state(tmp_path: Path) -> sqlite3.Connection:
    return state_store.connect(tmp_path / "state.sqlite")


def answer(state: sqlite3.Connection, *article_ids: str) -> usage.LoggedAnswer:
    citations = tuple(Citation(n, a, a, "Resolution", f"/articles/{a}", None, False, "snippet")
                      for n, a in enumerate(article_ids, 1))
    answer_id = usage.log_answer(state, Answer("vpn drops", True, "text [1]", 0.9, citations),
                                 "agent")
    logged = usage.get_answer(state, answer_id)
    assert logged is not None
    return logged


def test_a_thumbs_down_and_a_report_on_one_answer_count_once(state: sqlite3.Connection) -> None:
    logged = answer(state, VPN, PRINTER)
    usage.record_feedback(state, logged.id, False, "did not work", "agent")
    usage.record_report(state, logged, VPN, "outdated", None, "agent")
    signals = usage.article_signals(state)
    assert signals[VPN] == usage.ArticleSignals(cited=1, helpful=0, not_helpful=1, reports=1,
                                                negative=1)
    # the thumbs-down is on the whole answer, so it counts against every article it cites
    assert signals[PRINTER] == usage.ArticleSignals(cited=1, not_helpful=1, negative=1)
    queue = review_queue.queue_signals(state)
    assert (queue[VPN].citations, queue[VPN].negative_feedback) == (1, 1)
    assert (queue[PRINTER].citations, queue[PRINTER].negative_feedback) == (1, 1)


def test_negative_feedback_counts_distinct_answers(state: sqlite3.Connection) -> None:
    twice_down = answer(state, VPN)
    usage.record_feedback(state, twice_down.id, False, None, "agent")
    usage.record_feedback(state, twice_down.id, False, None, "other-agent")
    reported_twice = answer(state, VPN)
    usage.record_report(state, reported_twice, VPN, "wrong", None, "agent")
    usage.record_report(state, reported_twice, VPN, "outdated", None, "agent")
    liked_but_reported = answer(state, VPN)
    usage.record_feedback(state, liked_but_reported.id, True, None, "agent")
    usage.record_report(state, liked_but_reported, VPN, "outdated", None, "agent")
    liked = answer(state, VPN)
    usage.record_feedback(state, liked.id, True, None, "agent")
    answer(state, VPN)  # no feedback at all

    assert usage.article_signals(state)[VPN] == usage.ArticleSignals(
        cited=5, helpful=2, not_helpful=2, reports=3, negative=3)
    assert review_queue.queue_signals(state)[VPN].negative_feedback == 3
