"""What to write next and whether kb helps: ``GET /api/gaps``, ``GET /api/demand``,
``GET /api/metrics``."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from assistant import review_queue
from assistant.gaps import list_gaps
from assistant.metrics import kpis
from assistant.users import reader
from assistant.web.deps import GapsUser, Kb, MetricsUser
from assistant.web.review import visible_queue
from core.visibility import Audience, allowed, visible
from tickets.store import last_run

router = APIRouter(prefix="/api", tags=["insights"])


class GapPublic(BaseModel):
    topic: str
    count: int
    examples: list[str]
    reasons: dict[str, int]
    last_asked: str


@router.get("/gaps", response_model=list[GapPublic])
def gaps(user: GapsUser, kb: Kb,
         limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    """Questions kb could not answer or whose answers were not helpful, grouped by topic,
    most asked first: those asked by users sharing one of the caller's groups or by users
    without groups (admins: all)."""
    with kb.state.use() as conn:
        groups = list_gaps(conn, limit, reader(user))
    return [{**g.__dict__, "examples": list(g.examples)} for g in groups]


@router.get("/metrics")
def metrics(user: MetricsUser, kb: Kb,
            days: Annotated[int, Query(ge=1, le=365)] = 30) -> dict[str, Any]:
    """Questions per day, answered vs not covered, helpful rate, most-cited articles, share
    of answers citing stale articles, KB health counts."""
    today = date.today()
    open_flags = Counter(i.flag.kind for i in visible_queue(
        kb, user, review_queue.Filters(state="active")))
    assistant = kb.live.current()
    with kb.state.use() as conn:
        return kpis(conn, assistant.index, today, assistant.stale_check(today),
                    dict(open_flags.most_common()), reader(user), days)


def _visible_ids(kb: Kb, audience: Audience, ids: set[str]) -> set[str]:
    today = date.today()
    return {a for a in ids if (facts := kb.live.facts(a)) is not None
            and visible(audience, facts, today)}


def demand_for(summary: dict[str, Any], audience: Audience, seen: set[str]) -> dict[str, Any]:
    """A stored coverage run as one reader may see it: only the articles in ``seen`` and the
    example tickets whose requesters' groups the reader shares (counts stay whole)."""
    def examples(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in rows if allowed(audience, e.get("groups", []))]

    articles = [{**a, "examples": examples(a["examples"])}
                for a in summary["top_articles"] if a["article_id"] in seen]
    topics = [{**c, "examples": examples(c["examples"]),
               "nearest": [n for n in c["nearest"] if n["article_id"] in seen]}
              for c in summary["clusters"]]
    keep = ("run_id", "run_at", "as_of", "since", "tickets", "covered", "share", "threshold",
            "embedding", "by_category", "by_group", "by_month", "clustering", "command")
    return {**{k: summary.get(k) for k in keep}, "top_articles": articles, "clusters": topics}


@router.get("/demand")
def demand(user: GapsUser, kb: Kb) -> dict[str, Any]:
    """The last ``kb coverage --tickets`` run: the share of imported tickets kb would answer
    (by category, assignment group, month), the articles that would answer the most, and the
    uncovered tickets' topics (articles to write). ``{"run": null}`` before the first run."""
    with kb.state.use() as conn:
        summary = last_run(conn)
    if summary is None:
        return {"run": None}
    audience = reader(user)
    ids = {a["article_id"] for a in summary["top_articles"]} | {
        n["article_id"] for c in summary["clusters"] for n in c["nearest"]}
    return {"run": demand_for(summary, audience, _visible_ids(kb, audience, ids))}
