"""The review workflow in a real state DB: states, the audit trail, reconciliation, the queue."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.errors import KbError
from core.store import state as state_store
from core.store.flag_states import (
    change_state,
    history,
    load_states,
    mark_reviewed,
    reconcile,
    reviewed_overrides,
)
from core.types import Flag
from ingest.quality.policy import KINDS
from ingest.quality.queue import ArticleSignals, build_queue, effective_state
from tests.ingest.quality_helpers import article

STALE = Flag("a.md", "stale", "medium", "last reviewed long ago", {"key": "review-age"})
LINK = Flag("a.md", "broken-link", "medium", "links to x.md", {"key": "x.md"})
OTHER = Flag("b.md", "metadata", "medium", "no owner", {"key": "no-owner"})


@pytest.fixture
def state(tmp_path: Path):
    conn = state_store.connect(tmp_path / "state.sqlite")
    yield conn
    conn.close()


def states_of(conn):
    return {key: s.state for key, s in load_states(conn).items()}


def test_new_flags_open_and_each_change_is_an_event(state):
    summary = reconcile(state, [STALE, OTHER], {"a.md": "h1", "b.md": "h2"}, at="t1")
    assert (summary.opened, summary.reopened, summary.fixed) == (2, 0, 0)
    assert states_of(state) == {STALE.key: "open", OTHER.key: "open"}
    [event] = history(state, "a.md")
    assert {k: event[k] for k in ("kind", "key", "at", "by", "from_state", "to_state",
                                  "note")} == {
        "kind": "stale", "key": "review-age", "at": "t1", "by": "kb", "from_state": None,
        "to_state": "open", "note": "detected"}


def test_dismissed_stays_dismissed_until_the_article_changes(state):
    reconcile(state, [STALE], {"a.md": "h1"}, at="t1")
    change_state(state, [STALE], "dismissed", "alice", "reviewed by legal; still right", "h1",
                 at="t2")
    reconcile(state, [STALE], {"a.md": "h1"}, at="t3")
    assert states_of(state) == {STALE.key: "dismissed"}
    summary = reconcile(state, [STALE], {"a.md": "h2"}, at="t4")
    assert summary.reopened == 1
    assert states_of(state) == {STALE.key: "open"}
    trail = [(e["at"], e["by"], e["from_state"], e["to_state"], e["note"])
             for e in history(state, "a.md")]
    assert trail == [("t1", "kb", None, "open", "detected"),
                     ("t2", "alice", "open", "dismissed", "reviewed by legal; still right"),
                     ("t4", "kb", "dismissed", "open", "article changed since it was dismissed")]


def test_a_flag_whose_cause_is_gone_becomes_fixed_and_can_come_back(state):
    reconcile(state, [STALE, LINK], {"a.md": "h1"}, at="t1")
    change_state(state, [LINK], "acknowledged", "bob", None, "h1", at="t2")
    summary = reconcile(state, [], {"a.md": "h2"}, at="t3")
    assert summary.fixed == 2
    assert states_of(state) == {STALE.key: "fixed", LINK.key: "fixed"}
    assert history(state)[-1]["note"] == "cause gone at ingest"
    reconcile(state, [LINK], {"a.md": "h3"}, at="t4")
    assert states_of(state)[LINK.key] == "open"
    assert history(state)[-1]["note"] == "detected again"


def test_removed_articles_fix_their_flags_but_unchanged_dismissals_stay(state):
    reconcile(state, [STALE, OTHER], {"a.md": "h1", "b.md": "h2"}, at="t1")
    change_state(state, [STALE], "dismissed", "alice", "fine", "h1", at="t2")
    reconcile(state, [], {"a.md": "h1"}, at="t3")
    assert states_of(state) == {STALE.key: "dismissed", OTHER.key: "fixed"}
    assert history(state, "b.md")[-1]["note"] == "article removed"


def test_reconcile_leaves_flags_of_other_stages_alone(state):
    reported = Flag("a.md", "reported", "high", "agents said it is wrong", {"key": "wrong"})
    change_state(state, [reported], "open", "web", "reported by an agent", "h1", at="t1")
    summary = reconcile(state, [], {"a.md": "h1"}, at="t2", kinds=KINDS)
    assert summary.fixed == 0
    assert states_of(state) == {reported.key: "open"}


def test_dismissing_needs_a_reason_and_states_are_checked(state):
    with pytest.raises(KbError, match="needs a reason"):
        change_state(state, [STALE], "dismissed", "alice", "  ", "h1")
    with pytest.raises(KbError, match="unknown flag state"):
        change_state(state, [STALE], "closed", "alice", None, "h1")


def test_repeating_the_same_action_records_nothing_new(state):
    change_state(state, [STALE], "acknowledged", "bob", None, "h1", at="t1")
    assert change_state(state, [STALE], "acknowledged", "bob", None, "h1", at="t2") == []
    assert len(history(state)) == 1


def test_reconcile_keeps_the_latest_reason_and_evidence(state):
    reconcile(state, [STALE], {"a.md": "h1"}, at="t1")
    newer = Flag("a.md", "stale", "medium", "last reviewed 400 days ago", {"key": "review-age"})
    reconcile(state, [newer], {"a.md": "h1"}, at="t2")
    assert load_states(state)[STALE.key].flag.reason == "last reviewed 400 days ago"
    assert len(history(state)) == 1


def test_mark_reviewed_records_an_override(state):
    mark_reviewed(state, "a.md", date(2026, 11, 20), "alice", "h1", at="t1")
    mark_reviewed(state, "a.md", date(2026, 11, 25), "alice", "h1", at="t2")
    assert reviewed_overrides(state) == {"a.md": date(2026, 11, 25)}


def test_effective_state_of_a_present_flag():
    assert effective_state(None, "h") == "open"
    reconcile_row = build_queue([STALE], {}, {})[0]
    assert reconcile_row.state == "open"


def test_queue_order_severity_then_citations_then_feedback_then_age():
    arts = {a.id: a for a in (
        article(id="old.md", last_reviewed=date(2020, 1, 1)),
        article(id="new.md", last_reviewed=date(2025, 1, 1)),
        article(id="cited.md", last_reviewed=date(2025, 6, 1)),
        article(id="disliked.md", last_reviewed=date(2025, 6, 1)),
        article(id="expired.md", last_reviewed=date(2026, 1, 1)))}
    flags = [Flag(aid, "stale", "medium", "r", {"key": "review-age"})
             for aid in ("new.md", "old.md", "cited.md", "disliked.md")]
    flags.append(Flag("expired.md", "expired", "high", "r", {"key": "valid-until"}))
    signals = {"cited.md": ArticleSignals(citations=5, negative_feedback=0),
               "disliked.md": ArticleSignals(citations=0, negative_feedback=2)}
    queue = build_queue(flags, {}, arts, signals)
    assert [i.flag.article_id for i in queue] == ["expired.md", "cited.md", "disliked.md",
                                                  "old.md", "new.md"]


def test_queue_shows_fixed_flags_only_when_asked(state):
    reconcile(state, [STALE, OTHER], {"a.md": "h1", "b.md": "h2"}, at="t1")
    reconcile(state, [OTHER], {"a.md": "h1", "b.md": "h2"}, at="t2")
    arts = {"a.md": article(id="a.md", content_hash="h1"),
            "b.md": article(id="b.md", content_hash="h2")}
    everything = build_queue([OTHER], load_states(state), arts)
    assert [(i.flag.kind, i.state) for i in everything] == [("metadata", "open"),
                                                            ("stale", "fixed")]
    current = build_queue([OTHER], load_states(state), arts, include_fixed=False)
    assert [i.flag.kind for i in current] == ["metadata"]
