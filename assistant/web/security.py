"""Who is calling, and the protections every response gets.

Pages sign in with a session cookie: a signed, HttpOnly, SameSite=Strict cookie holding a
random session id that the state DB knows. State-changing requests made with that cookie must
echo the CSRF token (an HMAC of the session id, readable by the page's JS from the ``kb_csrf``
cookie) in ``X-CSRF-Token``, and come from this origin. API clients send
``Authorization: Bearer TOKEN`` instead, which no other site can make a browser send.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response
from itsdangerous import BadSignature
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import JSONResponse

from assistant import users
from assistant.users import User
from assistant.web.runtime import WebKb

SESSION_COOKIE = "kb_session"
CSRF_COOKIE = "kb_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY_BYTES = 64 * 1024
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")


@dataclass(frozen=True)
class Caller:
    user: User
    session_id: str | None  # None when signed in with a bearer token


def csrf_token(secret: str, session_id: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def session_id(request: Request, kb: WebKb) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        value = kb.signer.loads(raw, max_age=users.SESSION_HOURS * 3600)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def identify(request: Request, kb: WebKb) -> Caller | None:
    """The caller from a bearer token, else from the session cookie; None if neither is valid."""
    token = bearer_token(request)
    if token is not None:
        with kb.state.use() as conn:
            user = users.user_for_token(conn, token)
        return Caller(user, None) if user else None
    sid = session_id(request, kb)
    if sid is None:
        return None
    with kb.state.use() as conn:
        user = users.user_for_session(conn, sid)
    return Caller(user, sid) if user else None


def same_origin(request: Request) -> bool:
    """True when the Origin (or Referer) header is absent or names this server."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def csrf_ok(request: Request, kb: WebKb, caller: Caller) -> bool:
    if request.method in SAFE_METHODS or caller.session_id is None:
        return True
    sent = request.headers.get(CSRF_HEADER, "")
    return same_origin(request) and hmac.compare_digest(
        sent, csrf_token(kb.secret, caller.session_id))


def set_session_cookies(response: Response, kb: WebKb, sid: str, secure: bool) -> str:
    token = csrf_token(kb.secret, sid)
    age = users.SESSION_HOURS * 3600
    response.set_cookie(SESSION_COOKIE, kb.signer.dumps(sid), max_age=age, httponly=True,
                        samesite="strict", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, token, max_age=age, httponly=False, samesite="strict",
                        secure=secure, path="/")
    return token


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


class SecurityHeaders(BaseHTTPMiddleware):
    """CSP (no inline script, nothing from elsewhere), no framing, no sniffing; and a cap on
    request bodies so a huge upload is refused before it is read."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"},
                                status_code=413)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
