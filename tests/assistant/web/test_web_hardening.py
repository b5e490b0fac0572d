"""The web app's defences (issue 11): the body cap enforced on the stream, sign-in limits that
count concurrent attempts, X-Forwarded-For believed only from configured proxies, ``next``
kept on this site, JSON for every 5xx, and a ``/healthz`` that reads its stores.

Over kb_samples/ ingested with the HashingEmbedder (see fast_app.py), through FastAPI's
TestClient, the ASGI app called directly, or a real uvicorn server on a free loopback port
configured as ``kb serve`` configures it (:func:`assistant.web.app.uvicorn_config`).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message

from assistant.web.app import create_app
from assistant.web.pages import safe_next
from assistant.web.ratelimit import LoginLimiter
from assistant.web.security import MAX_BODY_BYTES
from core.paths import live_index
from core.settings import Settings
from ingest.embed import HashingEmbedder
from tests.assistant.web.conftest import serve_app
from tests.assistant.web.fast_app import PASSWORD, FastKb, add_users, build_data_dir, fast_app

TOO_LARGE = {"detail": f"request body over {MAX_BODY_BYTES} bytes"}
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def fast_kb(tmp_path_factory: pytest.TempPathFactory) -> FastKb:
    return add_users(build_data_dir(tmp_path_factory.mktemp("web-hardening")))


@dataclass(frozen=True)
class Served:
    url: str
    app: FastAPI

    def fresh_limits(self) -> None:
        self.app.state.kb.limiter = LoginLimiter()


@pytest.fixture(scope="module")
def served(fast_kb: FastKb) -> Iterator[Served]:
    """The app under uvicorn on a loopback port, configured as `kb serve` configures it."""
    app = fast_app(fast_kb.data_dir)
    url, server, thread = serve_app(app)
    yield Served(url, app)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def server(served: Served) -> Served:
    """The module's server with no sign-in failures counted yet."""
    served.fresh_limits()
    return served


# --- 1. the body cap, on the stream ---------------------------------------------------------

def test_chunked_body_is_refused_as_soon_as_it_passes_the_cap(fast_kb: FastKb) -> None:
    """The ASGI app itself, fed 16 KB chunks of a 4.8 MB body without a Content-Length: it
    answers 413 after the fifth chunk and never asks for the rest."""
    app = fast_app(fast_kb.data_dir)
    chunk, chunks = b"x" * 16384, 300
    received, sent = 0, []

    async def receive() -> Message:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": chunk, "more_body": received < chunks}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/api/login", "raw_path": b"/api/login",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8000),
             "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
                         (b"transfer-encoding", b"chunked")]}
    asyncio.run(app(scope, receive, send))
    assert received == MAX_BODY_BYTES // len(chunk) + 1
    assert sent[0]["status"] == 413
    assert json.loads(b"".join(m.get("body", b"") for m in sent[1:])) == TOO_LARGE


def raw_chunked_post(url: str, path: str, total: int) -> tuple[bytes, int]:
    """POST a chunked body of up to ``total`` bytes over a raw socket, stopping as soon as the
    server answers (or stops reading); the response's bytes and how many were sent."""
    host, port = url.removeprefix("http://").split(":")
    sent, piece = 0, b"{" + b" " * 65535
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: "
                     "application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        sock.setblocking(False)
        response = b""
        while sent < total:
            try:
                response += sock.recv(65536)
                break  # the server answered
            except BlockingIOError:
                pass
            try:
                sock.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                sent += len(piece)
            except BlockingIOError:
                time.sleep(0.01)  # the server is not reading
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.setblocking(True)
        if sent >= total:
            sock.sendall(b"0\r\n\r\n")
        try:
            while chunk := sock.recv(65536):
                response += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return response, sent


def test_chunked_body_to_the_login_route_is_413_on_a_real_server(server: Served) -> None:
    response, sent = raw_chunked_post(server.url, "/api/login", 50_000_000)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert json.loads(body) == TOO_LARGE
    assert sent < 20_000_000  # refused early: the 50 MB were never all sent
    assert httpx.get(f"{server.url}/healthz").status_code == 200  # the server is fine


def test_stated_content_length_over_the_cap_is_413(server: Served) -> None:
    response = httpx.post(f"{server.url}/api/login", content=b"{" + b" " * MAX_BODY_BYTES)
    assert response.status_code == 413 and response.json() == TOO_LARGE


def test_chunked_body_under_the_cap_still_works(server: Served) -> None:
    body = json.dumps({"username": "agent", "password": PASSWORD}).encode()
    response = httpx.post(f"{server.url}/api/login", content=iter([body[:10], body[10:]]),
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["name"] == "agent"


# --- 2. sign-in limits count concurrent attempts --------------------------------------------

def test_thirty_concurrent_wrong_passwords_get_five_401s(server: Served) -> None:
    def wrong(_: int) -> int:
        return httpx.post(f"{server.url}/api/login", timeout=60,
                          json={"username": "lead", "password": "wrong-password"}).status_code

    with ThreadPoolExecutor(30) as pool:
        statuses = Counter(pool.map(wrong, range(30)))
    assert statuses == {401: 5, 429: 25}
    right = httpx.post(f"{server.url}/api/login", json={"username": "lead", "password": PASSWORD})
    assert right.status_code == 429 and int(right.headers["retry-after"]) > 0


def test_limiter_reserves_atomically_and_success_gives_the_address_back() -> None:
    limiter = LoginLimiter(per_user=2, per_client=3, window_s=60)
    assert limiter.reserve("user:ana", "ip:a") == 0
    assert limiter.reserve("user:ana", "ip:a") == 0
    assert limiter.reserve("user:ana", "ip:a") > 0  # the name's 2 attempts are taken
    limiter.succeeded("user:ana", "ip:a")  # the second one was right
    assert limiter.reserve("user:bob", "ip:a") == 0  # ip:a: 1 failure + bob's
    assert limiter.reserve("user:cy", "ip:a") == 0
    assert limiter.reserve("user:dee", "ip:a") > 0


# --- 3. X-Forwarded-For only from trusted proxies -------------------------------------------

def test_rotating_forwarded_for_from_loopback_does_not_dodge_the_address_limit(
        server: Served) -> None:
    def attempt(i: int, name: str = "") -> httpx.Response:
        return httpx.post(f"{server.url}/api/login", headers={"X-Forwarded-For": f"10.9.8.{i}"},
                          json={"username": name or f"nobody-{i}", "password": "wrong"})

    assert [attempt(i).status_code for i in range(20)] == [401] * 20
    limited = attempt(99)
    assert limited.status_code == 429
    assert attempt(100, "agent").status_code == 429  # the address is paused, whoever signs in


def proxied_client(fast_kb: FastKb, trusted: list[str]) -> TestClient:
    settings = Settings(data_dir=fast_kb.data_dir, embedder="hashing", secret_key="test-secret",
                        trusted_proxies=trusted)
    return TestClient(create_app(settings, HashingEmbedder()), client=("10.0.0.2", 40000))


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(fast_kb: FastKb) -> None:
    """The proxy 10.0.0.2 appends the address it saw; a client's own X-Forwarded-For entries
    (to the left) do not change which address is counted."""
    with proxied_client(fast_kb, ["10.0.0.0/8"]) as client:
        def login(forwarded: str, name: str) -> int:
            return client.post("/api/login", headers={"X-Forwarded-For": forwarded},
                               json={"username": name, "password": "wrong"}).status_code

        assert [login(f"1.2.3.{i}, 203.0.113.5", f"n{i}") for i in range(20)] == [401] * 20
        assert login("7.7.7.7, 203.0.113.5", "someone") == 429  # spoofed left part: ignored
        assert login("198.51.100.7", "someone") == 401  # another client: its own budget
        assert login("198.51.100.8, 10.1.1.1", "someone-else") == 401  # inner proxy skipped


def test_forwarded_for_is_ignored_from_an_untrusted_peer(fast_kb: FastKb) -> None:
    with proxied_client(fast_kb, ["192.168.0.1"]) as client:
        statuses = [client.post("/api/login", headers={"X-Forwarded-For": f"1.1.1.{i}"},
                                json={"username": f"n{i}", "password": "x"}).status_code
                    for i in range(21)]
    assert statuses == [401] * 20 + [429]


@pytest.mark.parametrize(("peer", "trusted", "proto", "secure"), [
    ("10.0.3.1", ["10.0.0.0/8"], "https", True),  # the proxy ended TLS: cookies only via https
    ("10.0.3.2", ["10.0.0.0/8"], "https, http", True),  # the first value: the browser's side
    ("10.0.3.3", ["10.0.0.0/8"], "http", False),
    ("10.0.3.4", ["10.0.0.0/8"], None, False),
    ("10.0.3.5", ["192.168.0.1"], "https", False),  # from an untrusted peer: ignored
])
def test_cookies_are_secure_when_a_trusted_proxy_says_https(
        fast_kb: FastKb, peer: str, trusted: list[str], proto: str | None,
        secure: bool) -> None:
    headers = {"X-Forwarded-Proto": proto} if proto else {}
    settings = Settings(data_dir=fast_kb.data_dir, embedder="hashing", secret_key="test-secret",
                        trusted_proxies=trusted)
    with TestClient(create_app(settings, HashingEmbedder()), client=(peer, 40000)) as client:
        reply = client.post("/api/login", headers=headers,
                            json={"username": "agent", "password": PASSWORD})
    assert reply.status_code == 200
    cookies = reply.headers.get_list("set-cookie")
    assert len(cookies) == 2
    assert all(("; secure" in c.lower()) == secure for c in cookies), cookies


def test_a_bad_trusted_proxy_entry_fails_at_start(fast_kb: FastKb) -> None:
    with pytest.raises(Exception, match="not an IP address or network"):
        create_app(Settings(data_dir=fast_kb.data_dir, trusted_proxies=["proxy.local"]),
                   HashingEmbedder())


# --- 4. `next` stays on this site -----------------------------------------------------------

@pytest.mark.parametrize(("target", "kept"), [
    ("/", True), ("/review", True), ("/articles/network/vpn-cannot-connect.md", True),
    ("/review?kind=stale&owner=a%40b.c", True), ("/gaps#top", True),
    ("/\\evil.example/", False), ("/%5Cevil.example/", False), ("//evil.example/", False),
    ("/%2Fevil.example/", False), ("/%2f%2fevil.example", False), ("/\t/evil.example", False),
    ("/%09/evil.example", False), ("https://evil.example/", False), ("evil.example", False),
    ("javascript:alert(1)", False), ("", False), ("/%", True)])
def test_safe_next_keeps_only_paths_of_this_site(target: str, kept: bool) -> None:
    assert safe_next(target) == (target if kept else "/")


def test_page_redirect_carries_a_safe_next(fast_kb: FastKb) -> None:
    with TestClient(fast_app(fast_kb.data_dir), follow_redirects=False) as client:
        response = client.get("/review?kind=stale")
        assert response.headers["location"] == "/login?next=/review%3Fkind%3Dstale"


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing")
@pytest.mark.parametrize(("next_", "lands_on"), [
    ("/%5Cevil.example/", "/"), ("//evil.example/", "/"), ("/%09/evil.example/", "/"),
    ("/review", "/review")])
def test_login_page_follows_only_a_same_site_next(server: Served, next_: str,
                                                  lands_on: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
            server.url) else route.abort())  # nothing leaves the machine
        page.goto(f"{server.url}/login?next={next_}")
        page.fill("#username", "owner")
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url == f"{server.url}{lands_on}"
        browser.close()


# --- 5 and 6. JSON for a 5xx, and a /healthz that reads its stores --------------------------

@pytest.fixture
def corrupted(fast_kb: FastKb, tmp_path: Path) -> Iterator[TestClient]:
    """The app running over a copy of the data dir whose catalog file is then overwritten
    (checkpointed first, so its pages are in the file rather than in the WAL)."""
    data_dir = tmp_path / "data"
    shutil.copytree(fast_kb.data_dir, data_dir)
    catalog = live_index(data_dir, create=False).catalog
    with closing(sqlite3.connect(catalog)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with TestClient(fast_app(data_dir), raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200
        catalog.write_bytes(b"this is not a database" * 4096)
        yield client


def test_healthz_is_503_naming_the_corrupt_catalog(corrupted: TestClient,
                                                   fast_kb: FastKb) -> None:
    response = corrupted.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "failing", "failed": ["catalog"]}
    body = corrupted.get("/healthz", headers=fast_kb.auth("admin")).json()
    assert body["failed"] == ["catalog"]
    assert body["detail"].startswith("cannot read catalog: DatabaseError")


def test_unhandled_error_is_a_json_500_with_the_traceback_logged(
        corrupted: TestClient, fast_kb: FastKb, caplog: pytest.LogCaptureFixture) -> None:
    path = "/api/articles/network/vpn-cannot-connect.md"  # read from the catalog's file
    response = corrupted.get(path, headers=fast_kb.auth("agent"))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "detail": "internal error: DatabaseError (see the server log)"}
    assert response.headers["x-content-type-options"] == "nosniff"
    logged = [r for r in caplog.records if r.message == f"unhandled error on GET {path}"]
    assert logged and logged[0].exc_info


def test_healthz_is_200_with_counts_when_both_stores_read(server: Served,
                                                          fast_kb: FastKb) -> None:
    body = httpx.get(f"{server.url}/healthz", headers=fast_kb.auth("admin")).json()
    assert body["status"] == "ok" and body["articles"] == 50
