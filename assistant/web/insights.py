"""What to write next and whether kb helps: ``GET /api/gaps``, ``GET /api/metrics``."""

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
