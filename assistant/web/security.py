"""Who is calling, and the protections every response gets.

Pages sign in with a session cookie: a signed, HttpOnly, SameSite=Strict cookie holding a
random session id that the state DB knows. State-changing requests made with that cookie must
echo the CSRF token (an HMAC of the session id, readable by the page's JS from the ``kb_csrf``
cookie) in ``X-CSRF-Token``, and come from this origin. API clients send
``Authorization: Bearer TOKEN`` instead, which no other site can make a browser send.
A client's address (what sign-in limits count) is the socket peer's, or, from a proxy listed in
``KB_TRUSTED_PROXIES``, the right-most untrusted one of X-Forwarded-For.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import users
from assistant.users import User
from assistant.web.runtime import WebKb
from core.errors import KbError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

log = logging.getLogger(__name__)
SESSION_COOKIE = "kb_session"
CSRF_COOKIE = "kb_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY_BYTES = 64 * 1024
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
TOO_LARGE = f"request body over {MAX_BODY_BYTES} bytes"
INTERNAL_ERROR_PAGE = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>kb: "
                       "error</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>"
                       "<body class=\"centered\"><main class=\"card narrow\"><h1>Something went "
                       "wrong</h1><p>The server could not show this page (see the server log)."
                       "</p></main></body></html>")


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


@functools.cache
def trusted_networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """KB_TRUSTED_PROXIES as networks (an address is a network of one)."""
    networks = []
    for proxy in proxies:
        try:
            networks.append(ipaddress.ip_network(proxy.strip(), strict=False))
        except ValueError:
            raise KbError(f"trusted_proxies (KB_TRUSTED_PROXIES): {proxy!r} is not an IP "
                          "address or network") from None
    return tuple(networks)


def _trusted(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request, trusted_proxies: list[str]) -> str:
    """The socket peer's address; when the peer is a trusted proxy, the right-most address
    of X-Forwarded-For that is not one (what the last trusted proxy saw). Without trusted
    proxies, X-Forwarded-For is ignored: anyone can send it."""
    peer = request.client.host if request.client else "unknown"
    networks = trusted_networks(tuple(trusted_proxies))
    if not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for")
            for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def via_https(request: Request, trusted_proxies: list[str]) -> bool:
    """True when the browser reached kb over https: the request's own scheme, or, when the
    peer is a trusted proxy that ended TLS, its ``X-Forwarded-Proto`` (the first value: the
    proxy nearest the browser). From any other peer the header is ignored."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else "unknown"
    if not _trusted(peer, trusted_networks(tuple(trusted_proxies))):
        return False
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return proto == "https"


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


class BodyTooLarge(HTTPException):
    """The request body passed :data:`MAX_BODY_BYTES` while it was being received (an
    HTTPException, so FastAPI's body parsing lets it through as the 413 it is)."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE, headers={"Connection": "close"})


class SecurityHeaders:
    """Every HTTP response gets the CSP (no inline script, nothing from elsewhere), no framing,
    no sniffing; request bodies are capped at :data:`MAX_BODY_BYTES` as they arrive (a stated
    Content-Length over it is refused unread; a chunked body is counted and refused as soon as
    it passes the cap, the rest never read); an unhandled error becomes a logged 500 with a
    JSON ``detail`` (an HTML page for pages) instead of a plain-text one.

    A plain ASGI middleware: it sees each chunk of the body as the app receives it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")
        json_errors = api or scope["path"] in ("/healthz", "/openapi.json")
        started = False

        async def send_secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                if api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            await too_large(send_secured)
            return
        received = 0

        async def receive_capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, receive_capped, send_secured)
        except BodyTooLarge:
            if started:
                raise
            await too_large(send_secured)
        except Exception as exc:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started:  # part of the response is out: only closing the connection is left
                raise
            await internal_error(send_secured, json_errors, exc)


async def too_large(send: Send) -> None:
    response = JSONResponse({"detail": TOO_LARGE}, status_code=413,
                            headers={"Connection": "close"})
    await send_response(response, send)


async def internal_error(send: Send, as_json: bool, exc: Exception) -> None:
    """A 500 naming only the kind of error: the traceback goes to the log, not the client."""
    detail = f"internal error: {type(exc).__name__} (see the server log)"
    response: Response = (JSONResponse({"detail": detail}, status_code=500) if as_json
                          else HTMLResponse(INTERNAL_ERROR_PAGE, status_code=500))
    await send_response(response, send)


async def send_response(response: Response, send: Send) -> None:
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})
