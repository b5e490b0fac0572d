"""Agents' reports become ``reported`` flags that survive re-ingests until a person acts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from assistant import review_queue, usage
from assistant.types import Answer, Citation
from core.store import state as state_store
from core.store.flag_states import change_state, load_states, reconcile
from core.types import Article

ARTICLE = Article("email/mailbox-full.md", "email/mailbox-full.md", "Mailbox full", (), "h1",
                  owner="ops@northwind.example")


@pytest.fixture
def state(tmp_path: Path) -> sqlite3.Connection:
    return state_store.connect(tmp_path / "state.sqlite")


def report(state: sqlite3.Connection, kind: str = "outdated", comment: str = "quota changed"):
    citation = Citation(1, ARTICLE.id, ARTICLE.title, "Resolution", "/articles/x", None, False,
                        "snippet")
    answer_id = usage.log_answer(state, Answer("mailbox full", True, "text [1]", 0.9,
                                               (citation,)), "agent")
    logged = usage.get_answer(state, answer_id)
    usage.record_report(state, logged, ARTICLE.id, kind, comment, "agent")
    return review_queue.open_report_flag(state, ARTICLE, kind, "agent", comment)


def test_a_report_opens_a_high_flag_with_its_comments(state: sqlite3.Connection) -> None:
    flag = report(state)
    assert (flag.kind, flag.severity, flag.evidence["key"]) == ("reported", "high", "outdated")
    assert flag.evidence["comments"] == ["quota changed"] and flag.evidence["reports"] == 1
    assert load_states(state)[flag.key].state == "open"
    assert usage.article_signals(state)[ARTICLE.id] == usage.ArticleSignals(
        cited=1, helpful=0, not_helpful=0, reports=1, negative=1)


def test_reported_flag_survives_an_ingest_but_not_a_dismissal(state: sqlite3.Connection) -> None:
    flag = report(state)
    reconcile(state, [], {ARTICLE.id: ARTICLE.content_hash})  # what every ingest does
    assert load_states(state)[flag.key].state == "fixed"
    assert [f.key for f in review_queue.reported_flags(state, {ARTICLE.id: ARTICLE})] == [
        flag.key]
    change_state(state, [flag], "dismissed", "owner", "checked", ARTICLE.content_hash,
                 at="2999-01-01T00:00:00+00:00")
    assert review_queue.reported_flags(state, {ARTICLE.id: ARTICLE}) == []


def test_a_new_report_reopens_a_dismissed_flag(state: sqlite3.Connection) -> None:
    flag = report(state)
    change_state(state, [flag], "dismissed", "owner", "fine", ARTICLE.content_hash)
    report(state, comment="still wrong")
    assert load_states(state)[flag.key].state == "open"
    again = review_queue.reported_flags(state, {ARTICLE.id: ARTICLE})[0]
    assert again.evidence["reports"] == 2
    assert again.evidence["comments"] == ["still wrong", "quota changed"]
