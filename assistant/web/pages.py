"""The HTML pages (plain files in ``static/``), each checked against the caller's role.

Not signed in: a redirect to ``/login``. Signed in with the wrong role: a 403 page.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from assistant.web.deps import Kb
from assistant.web.security import identify

STATIC = Path(__file__).with_name("static")
router = APIRouter(include_in_schema=False)

FORBIDDEN = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>kb: no access
</title><link rel="stylesheet" href="/static/app.css"></head><body class="centered"><main
class="card narrow"><h1>No access</h1><p>Your role cannot open this page.</p>
<p><a href="/">Back to the assistant</a></p></main></body></html>"""


#: what browsers drop or read as a slash in a URL: ``/\\evil``, ``/\t/evil`` lead off-site
_UNSAFE_IN_NEXT = re.compile(r"[\\\x00-\x1f\x7f]")


def safe_next(target: str) -> str:
    """``target`` when it is a path on this site (one leading ``/``, not ``//`` or ``/\\``,
    no scheme or host, even once percent-decoded), else ``/``. login.js applies the same
    rule to ``/login?next=``."""
    decoded = unquote(target)
    for candidate in (target, decoded):
        parts = urlsplit(candidate)
        if (not candidate.startswith("/") or candidate.startswith("//")
                or _UNSAFE_IN_NEXT.search(candidate) or parts.scheme or parts.netloc):
            return "/"
    return target


def page(request: Request, kb: Kb, name: str, permission: str) -> Response:
    caller = identify(request, kb)
    if caller is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(safe_next(target))}", status_code=303)
    if not caller.user.can(permission):
        return HTMLResponse(FORBIDDEN, status_code=403)
    return FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})


@router.get("/")
def chat_page(request: Request, kb: Kb) -> Response:
    return page(request, kb, "chat.html", "ask")


@router.get("/articles/{article_id:path}")
def article_page(request: Request, kb: Kb, article_id: str) -> Response:
    return page(request, kb, "article.html", "ask")


@router.get("/review")
def review_page(request: Request, kb: Kb) -> Response:
    return page(request, kb, "review.html", "review")


@router.get("/gaps")
def gaps_page(request: Request, kb: Kb) -> Response:
    return page(request, kb, "gaps.html", "gaps")


@router.get("/dashboard")
def dashboard_page(request: Request, kb: Kb) -> Response:
    return page(request, kb, "dashboard.html", "metrics")


@router.get("/sources")
def sources_page(request: Request, kb: Kb) -> Response:
    return page(request, kb, "sources.html", "sources")


@router.get("/login")
def login_page() -> Response:
    return FileResponse(STATIC / "login.html")
