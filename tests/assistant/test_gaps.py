"""Knowledge gaps: recorded in the state DB, listed as groups of similar questions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from assistant.gaps import GapGroup, list_gaps, record_gap
from core.store import state as state_store


@pytest.fixture
def state(tmp_path: Path) -> sqlite3.Connection:
    return state_store.connect(tmp_path / "state.sqlite")


def record_at(state: sqlite3.Connection, asked_at: str, question: str,
              reason: str = "not_covered") -> None:
    """Record a gap, then pin its time (record_gap stamps 'now' to the second)."""
    record_gap(state, question, reason)
    with state:
        state.execute("UPDATE gaps SET asked_at = ? WHERE id = (SELECT max(id) FROM gaps)",
                      (asked_at,))


def test_record_gap_stores_the_question_and_who_asked(state: sqlite3.Connection) -> None:
    record_gap(state, "  vpn error 809  \n", "not_covered", asked_by="agent7", confidence=0.12)
    record_gap(state, "x" * 2500, "not_helpful")
    rows = state.execute("SELECT question, reason, asked_by, confidence, asked_at FROM gaps "
                         "ORDER BY id").fetchall()
    assert [tuple(r)[:4] for r in rows] == [("vpn error 809", "not_covered", "agent7", 0.12),
                                            ("x" * 2000, "not_helpful", None, None)]
    assert all(r["asked_at"].endswith("+00:00") for r in rows)


def test_similar_questions_form_one_topic_with_counts_and_examples(
        state: sqlite3.Connection) -> None:
    record_at(state, "2026-11-20T10:00:00+00:00", "VPN error 809 when connecting from home")
    record_at(state, "2026-11-20T10:01:00+00:00", "how do I book annual leave")
    record_at(state, "2026-11-20T10:02:00+00:00", "error 809 on the vpn at home")
    record_at(state, "2026-11-20T10:03:00+00:00", "vpn error 809 from home", "not_helpful")
    record_at(state, "2026-11-20T10:04:00+00:00", "vpn error 809 from home", "not_helpful")

    assert list_gaps(state) == [
        GapGroup(topic="vpn error 809 from home", count=4,
                 examples=("vpn error 809 from home", "error 809 on the vpn at home",
                           "VPN error 809 when connecting from home"),
                 reasons={"not_helpful": 2, "not_covered": 2},
                 last_asked="2026-11-20T10:04:00+00:00"),
        GapGroup(topic="how do I book annual leave", count=1,
                 examples=("how do I book annual leave",), reasons={"not_covered": 1},
                 last_asked="2026-11-20T10:01:00+00:00"),
    ]


def test_the_largest_topics_come_first_and_limit_cuts_the_list(
        state: sqlite3.Connection) -> None:
    record_at(state, "2026-11-20T10:00:00+00:00", "printer offline on floor 3")
    record_at(state, "2026-11-20T10:01:00+00:00", "badge printer offline floor 3")
    for minute in range(2, 5):
        record_at(state, f"2026-11-20T10:0{minute}:00+00:00", "laptop battery drains overnight")
    topics = [(g.topic, g.count) for g in list_gaps(state)]
    assert topics == [("laptop battery drains overnight", 3),
                      ("badge printer offline floor 3", 2)]
    assert [g.count for g in list_gaps(state, limit=1)] == [3]


def test_examples_stop_at_five(state: sqlite3.Connection) -> None:
    for n in range(7):
        record_at(state, f"2026-11-20T10:0{n}:00+00:00", f"teams camera not detected model {n}")
    (group,) = list_gaps(state)
    assert group.count == 7
    assert group.examples == tuple(f"teams camera not detected model {n}"
                                   for n in (6, 5, 4, 3, 2))


def test_no_gaps_is_an_empty_list(state: sqlite3.Connection) -> None:
    assert list_gaps(state) == []
