"""What agents asked, what kb answered and what they thought of it, in the state database.

Every answer served by the web app is logged (question, answered or not, cited articles);
feedback and "this article is wrong/outdated" reports refer to a logged answer. The review
queue, the gaps page and the dashboard read these tables.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass

from assistant.gaps import record_gap
from assistant.types import Answer
from core.errors import KbError
from core.store.db import Connection, now_iso

REPORT_KINDS = ("wrong", "outdated")



@dataclass(frozen=True)
class LoggedAnswer:
    id: str
    question: str
    answered: bool
    confidence: float
    cited: tuple[str, ...]


@dataclass(frozen=True)
class ArticleSignals:
    """How much an article is used and what agents said about answers citing it."""

    cited: int = 0
    helpful: int = 0
    not_helpful: int = 0
    reports: int = 0
    #: answers citing it that got a thumbs-down or a report on it, each answer counted once
    negative: int = 0


def log_answer(conn: Connection, answer: Answer, asked_by: str | None,
               latency_ms: float | None = None) -> str:
    """Record a served answer; returns its id (feedback refers to it)."""
    answer_id = uuid.uuid4().hex
    cited = list(dict.fromkeys(c.article_id for c in answer.citations))
    with conn:
        conn.execute("INSERT INTO answers VALUES (?,?,?,?,?,?,?,?,?)",
                     (answer_id, now_iso(), asked_by, answer.question[:2000],
                      int(answer.answered), answer.confidence, json.dumps(cited),
                      int(any(c.stale for c in answer.citations)), latency_ms))
    return answer_id


def get_answer(conn: Connection, answer_id: str) -> LoggedAnswer | None:
    row = conn.execute("SELECT id, question, answered, confidence, cited FROM answers "
                       "WHERE id = ?", (answer_id,)).fetchone()
    if row is None:
        return None
    return LoggedAnswer(row[0], row[1], bool(row[2]), row[3] or 0.0,
                        tuple(json.loads(row[4])))


def record_feedback(conn: Connection, answer_id: str, helpful: bool,
                    comment: str | None, given_by: str | None) -> LoggedAnswer:
    """Store a thumbs up/down; a thumbs down also records the question as a gap."""
    logged = get_answer(conn, answer_id)
    if logged is None:
        raise KbError(f"no answer {answer_id!r}: feedback must refer to an answer kb gave")
    with conn:
        conn.execute("INSERT INTO feedback (answer_id, given_by, helpful, comment, given_at) "
                     "VALUES (?,?,?,?,?)", (answer_id, given_by, int(helpful),
                                            (comment or "").strip() or None, now_iso()))
    if not helpful:
        record_gap(conn, logged.question, "not_helpful", given_by, logged.confidence)
    return logged


def record_report(conn: Connection, logged: LoggedAnswer, article_id: str, kind: str,
                  comment: str | None, reported_by: str | None) -> None:
    """An agent says a cited article is wrong or outdated."""
    if kind not in REPORT_KINDS:
        raise KbError(f"report kind {kind!r}: must be one of {', '.join(REPORT_KINDS)}")
    if article_id not in logged.cited:
        raise KbError(f"article {article_id!r} is not cited by answer {logged.id}")
    with conn:
        conn.execute("INSERT INTO reports (answer_id, article_id, kind, comment, reported_by, "
                     "reported_at) VALUES (?,?,?,?,?,?)",
                     (logged.id, article_id, kind, (comment or "").strip() or None,
                      reported_by, now_iso()))


def article_signals(conn: Connection) -> dict[str, ArticleSignals]:
    """Per article: times cited, helpful / not-helpful votes on answers citing it, reports,
    and ``negative``: the answers citing it with a thumbs-down or a report on it (an answer
    with both, or with several, counts once)."""
    cited: Counter[str] = Counter()
    helpful: Counter[str] = Counter()
    not_helpful: Counter[str] = Counter()
    votes: dict[str, list[int]] = {}
    for answer_id, value in conn.execute("SELECT answer_id, helpful FROM feedback"):
        votes.setdefault(answer_id, []).append(value)
    negative: dict[str, set[str]] = {}
    for answer_id, article_id in conn.execute("SELECT answer_id, article_id FROM reports"):
        negative.setdefault(article_id, set()).add(answer_id)
    for answer_id, cited_json in conn.execute("SELECT id, cited FROM answers"):
        answer_votes = votes.get(answer_id, [])
        for article_id in json.loads(cited_json):
            cited[article_id] += 1
            for value in answer_votes:
                (helpful if value else not_helpful)[article_id] += 1
            if 0 in answer_votes:
                negative.setdefault(article_id, set()).add(answer_id)
    reports = Counter(dict(conn.execute(
        "SELECT article_id, count(*) FROM reports GROUP BY article_id").fetchall()))
    ids = set(cited) | set(reports)
    return {a: ArticleSignals(cited[a], helpful[a], not_helpful[a], reports[a],
                              len(negative.get(a, ()))) for a in ids}


def reports_for(conn: Connection, article_id: str) -> list[dict]:
    rows = conn.execute("SELECT kind, comment, reported_by, reported_at FROM reports "
                        "WHERE article_id = ? ORDER BY reported_at DESC, id DESC",
                        (article_id,)).fetchall()
    return [{"kind": r[0], "comment": r[1], "by": r[2], "at": r[3]} for r in rows]
