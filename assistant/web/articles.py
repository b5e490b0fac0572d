"""``GET /api/articles/{id}``: an article as sanitised HTML sections, with its open flags.

A restricted article is a 404 to users outside its groups: they cannot tell it exists.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from assistant import review_queue
from assistant.article_view import render_sections
from assistant.users import User, reader
from assistant.web.deps import AskUser, Kb
from assistant.web.review import FlagPublic, flag_public
from assistant.web.runtime import WebKb
from core.types import Article
from core.visibility import visible

router = APIRouter(prefix="/api", tags=["articles"])


class SectionPublic(BaseModel):
    anchor: str
    heading: str
    path: list[str]
    level: int
    html: str


class ArticlePublic(BaseModel):
    id: str
    title: str
    owner: str | None
    status: str
    category: str | None
    products: list[str]
    groups: list[str]
    last_reviewed: str | None
    valid_until: str | None
    url: str | None
    stale: bool
    stale_reason: str | None
    sections: list[SectionPublic]
    flags: list[FlagPublic]


def visible_article(kb: WebKb, user: User, article_id: str) -> Article:
    """The article if this user may see it; 404 otherwise (restricted looks like missing)."""
    article = kb.live.article(article_id)
    if article is None or not visible(reader(user), article, date.today()):
        raise HTTPException(404, f"no article {article_id!r}")
    return article


def article_public(kb: WebKb, article: Article, user: User) -> dict[str, Any]:
    """The article as the user sees it: its flags name only articles the user may see."""
    today = date.today()
    stale, reason = kb.live.current().stale_check(today)(article.id) \
        if kb.live.facts(article.id) else (False, None)
    with kb.state.use() as conn:
        items = review_queue.article_queue(
            kb.live.current().index.conn, conn, article, kb.policy, today,
            visible=lambda a: visible(reader(user), a, today))
    return {
        "id": article.id, "title": article.title, "owner": article.owner,
        "status": article.status, "category": article.category,
        "products": list(article.products), "groups": list(article.groups),
        "last_reviewed": article.last_reviewed.isoformat() if article.last_reviewed else None,
        "valid_until": article.valid_until.isoformat() if article.valid_until else None,
        "url": article.url, "stale": stale, "stale_reason": reason,
        "sections": [s.__dict__ for s in render_sections(article)],
        "flags": [flag_public(i) for i in items if i.state in ("open", "acknowledged")],
    }


@router.get("/articles/{article_id:path}", response_model=ArticlePublic)
def get_article(article_id: str, user: AskUser, kb: Kb) -> dict[str, Any]:
    """The article's sections (anchors match citation URLs) and its open flags."""
    return article_public(kb, visible_article(kb, user, article_id), user)
