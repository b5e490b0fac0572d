"""The owners' flag queue: ``GET /api/flags``, ``POST /api/flags/{id}/actions``,
``GET /api/flags/{id}/history``. Owners see flags on the articles their groups allow."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, StringConstraints

from assistant import review_queue
from assistant.users import User, may_view
from assistant.web.deps import Kb, ReviewUser
from assistant.web.runtime import WebKb
from core.errors import KbError
from ingest.quality.queue import QueueItem

router = APIRouter(prefix="/api", tags=["review"])


class FlagPublic(BaseModel):
    id: str
    article_id: str
    title: str
    owner: str | None
    kind: str
    severity: str
    reason: str
    evidence: dict[str, Any]
    state: str
    last_reviewed: str | None
    cited: int
    negative_feedback: int


class FlagListPublic(BaseModel):
    total: int
    items: list[FlagPublic]
    kinds: list[str]
    owners: list[str]
    states: list[str]


class FlagActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    action: Literal["acknowledge", "dismiss", "reviewed", "reassign", "reopen"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None
    owner: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class HistoryEvent(BaseModel):
    at: str
    by: str
    kind: str
    from_state: str | None
    to_state: str
    note: str | None


def flag_public(item: QueueItem) -> dict[str, Any]:
    flag = item.flag
    return {"id": review_queue.flag_id(flag), "article_id": flag.article_id, "title": item.title,
            "owner": item.owner, "kind": flag.kind, "severity": flag.severity,
            "reason": flag.reason, "evidence": flag.evidence, "state": item.state,
            "last_reviewed": item.last_reviewed.isoformat() if item.last_reviewed else None,
            "cited": item.signals.citations,
            "negative_feedback": item.signals.negative_feedback}


def visible_queue(kb: WebKb, user: User, filters: review_queue.Filters) -> list[QueueItem]:
    """The queue on the articles this user may open (a restricted article's flags stay
    hidden from owners outside its groups)."""
    articles = kb.live.articles()
    with kb.state.use() as conn:
        return review_queue.queue(kb.live.current().index.conn, conn, articles, kb.policy,
                                  date.today(), filters,
                                  lambda a: may_view(user, a.groups, a.status),
                                  kb.live.flag_cache)


def find_item(kb: WebKb, user: User, flag_id: str) -> QueueItem:
    for item in visible_queue(kb, user, review_queue.Filters()):
        if review_queue.flag_id(item.flag) == flag_id:
            return item
    raise HTTPException(404, f"no flag {flag_id!r}")


@router.get("/flags", response_model=FlagListPublic)
def list_flags(user: ReviewUser, kb: Kb,
               kind: Annotated[str | None, Query(max_length=50)] = None,
               owner: Annotated[str | None, Query(max_length=200)] = None,
               state: Annotated[str | None, Query(max_length=20)] = "active",
               limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    """The queue, most pressing first; ``state=active`` (default) is open + acknowledged,
    ``state=`` (empty) is every state."""
    everything = visible_queue(kb, user, review_queue.Filters())
    items = review_queue.filter_items(
        everything, review_queue.Filters(kind or None, owner or None, state or None))
    return {"total": len(items), "items": [flag_public(i) for i in items[:limit]],
            "kinds": sorted({i.flag.kind for i in everything}),
            "owners": sorted({i.owner for i in everything if i.owner}),
            "states": ["active", "open", "acknowledged", "dismissed", "fixed"]}


@router.post("/flags/{flag_id}/actions", response_model=FlagPublic)
def flag_action(flag_id: str, body: FlagActionRequest, user: ReviewUser, kb: Kb,
                ) -> dict[str, Any]:
    """acknowledge, dismiss (with a reason), reviewed (marks the article reviewed today),
    reassign (to ``owner``), reopen."""
    item = find_item(kb, user, flag_id)
    article = kb.live.article(item.flag.article_id)
    if article is None:
        raise HTTPException(404, f"no article {item.flag.article_id!r}")
    with kb.state.use() as conn:
        try:
            review_queue.apply_action(conn, item, article, body.action, user.name, body.reason,
                                      body.owner)
        except KbError as exc:
            raise HTTPException(422, str(exc)) from None
    if body.action == "reviewed":
        kb.live.note_reviewed(article.id, date.today())
    for fresh in visible_queue(kb, user, review_queue.Filters()):
        if fresh.flag.key == item.flag.key:
            return flag_public(fresh)
    return {**flag_public(item), "state": "fixed"}


@router.get("/flags/{flag_id}/history", response_model=list[HistoryEvent])
def flag_history(flag_id: str, user: ReviewUser, kb: Kb) -> list[dict[str, Any]]:
    """Every state change and owner reassignment of the flag's article, oldest first."""
    item = find_item(kb, user, flag_id)
    with kb.state.use() as conn:
        return review_queue.article_history(conn, item.flag.article_id)
