"""The owners' flag queue: ``GET /api/flags``, ``POST /api/flags/{id}/actions``,
``GET /api/flags/{id}/history``. Owners see flags on the articles their groups allow."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, StringConstraints

from assistant import review_queue
from assistant.review_actions import Stores, apply_action
from assistant.users import User, reader
from assistant.web.deps import Kb, ReviewUser
from assistant.web.runtime import WebKb
from core.errors import KbError
from core.visibility import visible
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
    action: Literal["acknowledge", "dismiss", "reopen", "resolve", "reviewed", "reassign"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None
    owner: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    confirm_products: bool = False


class ChangePublic(BaseModel):
    kind: str
    key: str
    from_state: str | None
    to_state: str


class FlagActionPublic(FlagPublic):
    """The flag after the action, every state change it made, and one line saying what
    changed and what stayed open (the same line ``kb review`` prints)."""

    changes: list[ChangePublic]
    message: str


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
                                  lambda a: visible(reader(user), a, date.today()),
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


@router.post("/flags/{flag_id}/actions", response_model=FlagActionPublic)
def flag_action(flag_id: str, body: FlagActionRequest, user: ReviewUser, kb: Kb,
                ) -> dict[str, Any]:
    """acknowledge, dismiss (with a reason), reopen, resolve (with a note), reviewed (marks
    the article reviewed today), reassign (to ``owner``): see ``assistant/review_actions.py``
    for what each one changes."""
    item = find_item(kb, user, flag_id)
    article = kb.live.article(item.flag.article_id)
    if article is None:
        raise HTTPException(404, f"no article {item.flag.article_id!r}")
    today = date.today()
    with kb.live.lock, kb.state.use() as conn:
        stores = Stores(kb.live.current().index.conn, conn, kb.policy)
        try:
            result = apply_action(stores, article, body.action, user.name, today, body.reason,
                                  body.owner, key=item.flag.key,
                                  confirm_products=body.confirm_products)
        except KbError as exc:
            raise HTTPException(422, str(exc)) from None
    extra = {"changes": [c.__dict__ for c in result.changes], "message": result.message}
    for fresh in visible_queue(kb, user, review_queue.Filters()):
        if fresh.flag.key == item.flag.key:
            return {**flag_public(fresh), **extra}
    return {**flag_public(item), "state": "fixed", **extra}


@router.get("/flags/{flag_id}/history", response_model=list[HistoryEvent])
def flag_history(flag_id: str, user: ReviewUser, kb: Kb) -> list[dict[str, Any]]:
    """Every state change of the flags of its article this user may see, and the article's
    owner reassignments, oldest first."""
    items = visible_queue(kb, user, review_queue.Filters())
    item = next((i for i in items if review_queue.flag_id(i.flag) == flag_id), None)
    if item is None:
        raise HTTPException(404, f"no flag {flag_id!r}")
    shown = [i.flag.key for i in items if i.flag.article_id == item.flag.article_id]
    with kb.state.use() as conn:
        return review_queue.article_history(conn, item.flag.article_id, shown)
