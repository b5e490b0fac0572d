"""Routing suggestions for agents: ``POST /api/route``.

The router (``kb tickets train``) is read from the data dir on first use and read again when
a new training replaced it; the KB articles next to the suggestion are the ones the caller's
groups may read, found as ``/api/ask`` finds them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from assistant.types import Viewer
from assistant.web.deps import AskUser, Kb
from core.errors import KbError
from tickets.routing import Router, closest_articles, load_router, router_path

router = APIRouter(prefix="/api", tags=["routing"])

MAX_TICKET = 5000
TicketText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=MAX_TICKET)]


class RouteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: TicketText
    k: int = Field(5, ge=0, le=20)


class Alternative(BaseModel):
    category: str
    confidence: float


class SimilarTicketPublic(BaseModel):
    id: str
    text: str
    category: str
    similarity: float


class ArticleLink(BaseModel):
    article_id: str
    title: str
    url: str


class RoutePublic(BaseModel):
    """The suggestion; ``known`` is false when ``confidence`` is under the model's threshold
    (then ``category`` is only the best guess: route the ticket by hand)."""

    category: str
    confidence: float
    known: bool
    group: str | None
    group_confidence: float | None
    alternatives: list[Alternative]
    similar_tickets: list[SimilarTicketPublic]
    articles: list[ArticleLink]


@dataclass
class RouterCache:
    """The loaded router and the manifest time it was read at (re-read after a training)."""

    path: Path
    lock: threading.Lock
    stamp: int | None = None
    router: Router | None = None

    def get(self) -> Router:
        try:
            stamp = (self.path / "manifest.json").stat().st_mtime_ns
        except OSError:
            raise HTTPException(409, "no routing model yet: an admin trains one with "
                                     "'kb tickets train'") from None
        with self.lock:
            if self.router is None or stamp != self.stamp:
                try:
                    self.router = load_router(self.path)
                except KbError:
                    raise HTTPException(409, "the routing model cannot be read: an admin "
                                             "trains it again with 'kb tickets train'") from None
                self.stamp = stamp
            return self.router


def router_cache(request: Request, data_dir: Path) -> RouterCache:
    cache = getattr(request.app.state, "router_cache", None)
    if cache is None:
        cache = request.app.state.router_cache = RouterCache(router_path(data_dir),
                                                             threading.Lock())
    return cache


@router.post("/route", response_model=RoutePublic,
             responses={409: {"description": "no routing model has been trained"}})
def route(body: RouteRequest, user: AskUser, kb: Kb, request: Request) -> RoutePublic:
    """Suggest the category (and assignment group) for a ticket, with the similar past
    tickets and the KB articles (those this user may read) it relates to."""
    suggestion = router_cache(request, kb.live.data_dir).get().suggest(body.text, k=body.k)
    articles = closest_articles(kb.live.current(), body.text, Viewer(user.groups),
                                date.today(), 3)
    return RoutePublic(
        category=suggestion.category, confidence=suggestion.confidence,
        known=suggestion.known, group=suggestion.group,
        group_confidence=suggestion.group_confidence,
        alternatives=[Alternative(category=c, confidence=p) for c, p in suggestion.alternatives],
        similar_tickets=[SimilarTicketPublic(**t._asdict()) for t in suggestion.similar_tickets],
        articles=[ArticleLink(**a) for a in articles])
