"""Agents' questions and feedback: ``/api/ask``, ``/api/ask/stream``, ``/api/feedback``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from starlette.concurrency import run_in_threadpool

from assistant import review_queue, usage
from assistant.answer import answer_json
from assistant.service import ask
from assistant.types import Answer, Viewer
from assistant.users import User
from assistant.web.deps import AskUser, Kb
from assistant.web.runtime import WebKb
from core.errors import KbError

router = APIRouter(prefix="/api", tags=["chat"])

MAX_QUESTION = 1000
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=MAX_QUESTION)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    question: Question
    k: int = Field(5, ge=1, le=20)
    product: Short | None = None
    category: Short | None = None


class CitationPublic(BaseModel):
    n: int
    article_id: str
    title: str
    section: str
    url: str
    last_reviewed: str | None
    stale: bool
    stale_reason: str | None
    snippet: str
    #: an open high-severity flag on the article, in plain words
    warning: str | None = None


class CaseLink(BaseModel):
    title: str
    url: str


class AnswerPublic(BaseModel):
    """The ``kb ask --json`` shape, plus the id that feedback refers to."""

    model_config = ConfigDict(extra="allow")
    answered: bool
    answer: str
    confidence: float
    citations: list[CitationPublic]
    related: list[dict[str, Any]]
    note: str | None
    #: "not covered": the next step the admin configured (KB_ESCALATION...)
    escalation: str | None = None
    #: a focused answer's left-out cases, as links
    other_cases: list[CaseLink] = []
    answer_id: str


class CitationReport(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    article_id: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    kind: Literal["wrong", "outdated"]
    comment: Comment | None = None


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    answer_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
    helpful: bool | None = None
    comment: Comment | None = None
    reports: list[CitationReport] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def says_something(self) -> FeedbackRequest:
        if self.helpful is None and not self.reports:
            raise ValueError("give 'helpful' (true/false) or at least one citation report")
        return self


class FeedbackPublic(BaseModel):
    recorded: bool
    flags_opened: list[str]


def answer_question(kb: WebKb, user: User, body: AskRequest) -> tuple[Answer, str]:
    """Ask as this user (their groups filter the articles), log the answer for the KPIs."""
    started = time.perf_counter()
    try:
        answer = ask(kb.live.current(), body.question, Viewer(user.groups, body.product,
                                                              body.category),
                     date.today(), body.k, asked_by=user.name)
    except KbError as exc:
        raise HTTPException(422, str(exc)) from None
    elapsed_ms = (time.perf_counter() - started) * 1000
    with kb.state.use() as conn:
        answer_id = usage.log_answer(conn, answer, user.name, round(elapsed_ms, 1))
    return answer, answer_id


@router.post("/ask", response_model=AnswerPublic)
def ask_route(body: AskRequest, user: AskUser, kb: Kb) -> dict[str, Any]:
    """Answer a question with numbered citations, or say it is not covered."""
    answer, answer_id = answer_question(kb, user, body)
    return {**answer_json(answer), "answer_id": answer_id}


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


async def answer_events(kb: WebKb, user: User, body: AskRequest) -> AsyncIterator[str]:
    yield sse("status", {"stage": "searching"})
    try:
        answer, answer_id = await run_in_threadpool(answer_question, kb, user, body)
    except HTTPException as exc:
        yield sse("error", {"detail": exc.detail})
        return
    payload = {**answer_json(answer), "answer_id": answer_id}
    for line in answer.answer.split("\n"):
        yield sse("token", {"text": line + "\n"})
        await asyncio.sleep(0)
    del payload["answer"]
    yield sse("citations", payload)
    yield sse("done", {"answer_id": answer_id})


@router.post("/ask/stream")
def ask_stream(body: AskRequest, user: AskUser, kb: Kb) -> StreamingResponse:
    """Server-sent events: ``status``, then ``token`` (one per answer line), ``citations``
    (citations, related, note, confidence, answer_id), ``done``; ``error`` on failure."""
    return StreamingResponse(answer_events(kb, user, body), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.post("/feedback", response_model=FeedbackPublic)
def feedback(body: FeedbackRequest, user: AskUser, kb: Kb) -> FeedbackPublic:
    """Thumbs up/down on an answer; a report on a citation opens a flag for its owner."""
    opened = []
    with kb.state.use() as conn:
        logged = usage.get_answer(conn, body.answer_id)
        if logged is None:
            raise HTTPException(404, f"no answer {body.answer_id}")
        if body.helpful is not None:
            usage.record_feedback(conn, body.answer_id, body.helpful, body.comment, user.name)
        for report in body.reports:
            article = kb.live.article(report.article_id)
            if article is None or report.article_id not in logged.cited:
                raise HTTPException(422, f"article {report.article_id!r} is not cited by this "
                                         "answer")
            usage.record_report(conn, logged, report.article_id, report.kind, report.comment,
                                user.name)
            flag = review_queue.open_report_flag(conn, article, report.kind, user.name,
                                                 report.comment)
            opened.append(review_queue.flag_id(flag))
    return FeedbackPublic(recorded=True, flags_opened=opened)
