"""A real kb web server for the API and browser tests.

``web_kb`` is kb_samples/ plus two articles carrying script payloads, ingested once per
session with the real model (flags computed as ``kb ingest`` does), with one user per role.
``server`` runs the app under uvicorn on a free loopback port in a thread.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant import users
from core.paths import live_index, state_db
from core.settings import Settings
from core.store import state as state_store
from ingest.update import update_index
from tests.assistant.helpers import KB_SAMPLES

#: the password of every test user
PASSWORD = "correct-horse-battery"
#: name -> (role, groups)
USERS = {
    "agent": ("agent", ""), "hr-agent": ("agent", "hr"), "owner": ("owner", "hr,security-team"),
    "it-owner": ("owner", ""),
    "lead": ("lead", ""), "admin": ("admin", ""),
}
XSS_MD = """---
title: Monitor flickers <script>window.__kb_pwned = 'title'</script>
owner: tom.becker@northwind.example
last_reviewed: 2026-10-01
category: endpoint
---

# Monitor flickers

## Symptoms

The external monitor flickers every few seconds on the docking station.

## Resolution

1. Reseat the monitor cable in the docking station.
2. Update the docking station firmware from Software Center.
"""
XSS_TXT = """Display driver reset for flickering screens

Symptoms
The laptop screen goes black and the caller sees <script>window.__kb_pwned = 'script'</script> \
in the error window. Some screens show <img src=x onerror="window.__kb_pwned = 'img'"> instead \
of the logo; the support link is <a href="javascript:window.__kb_pwned='link'">click</a>.

Resolution
1. Ask the caller to press Windows+Ctrl+Shift+B to reset the display driver.
2. If the screen stays black, restart the laptop while it is docked.
3. Check Device Manager for a display adapter warning and update the driver.
"""
XSS_ARTICLE = "endpoint/display-driver-reset.txt"


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path
    tokens: dict[str, str]

    def client(self, who: str | None = None) -> httpx.Client:
        """An API client with that user's bearer token (none: anonymous)."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def web_kb(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> Path:
    root = tmp_path_factory.mktemp("web")
    source = root / "source"
    shutil.copytree(KB_SAMPLES, source)
    (source / "endpoint" / "monitor-flickers.md").write_text(XSS_MD, encoding="utf-8")
    (source / XSS_ARTICLE).write_text(XSS_TXT, encoding="utf-8")
    data_dir = root / "data"
    update_index(live_index(data_dir), state_db(data_dir), source, real_embedder,
                 Settings(data_dir=data_dir), date.today())  # as `kb ingest` does
    state = state_store.connect(state_db(data_dir))
    for name, (role, groups) in USERS.items():
        users.add_user(state, name, role, users.parse_groups(groups), PASSWORD)
    state.close()
    return data_dir


def start_server(data_dir: Path, embedder: Any) -> tuple[str, Any, threading.Thread]:
    from assistant.web.app import create_app

    return serve_app(create_app(Settings(data_dir=data_dir, secret_key="test-secret"), embedder))


def serve_app(app: Any) -> tuple[str, Any, threading.Thread]:
    """``app`` under uvicorn on a free loopback port in a thread, configured as `kb serve`
    configures it: its URL, the server (set ``should_exit``) and the thread (join it)."""
    import uvicorn

    from assistant.web.app import uvicorn_config

    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the kb web server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture(scope="session")
def server(web_kb: Path, real_embedder: Any) -> Iterator[Server]:
    url, uv, thread = start_server(web_kb, real_embedder)
    state = state_store.connect(state_db(web_kb))
    tokens = {name: users.issue_token(state, name) for name in USERS}
    state.close()
    yield Server(url, web_kb, tokens)
    uv.should_exit = True
    thread.join(timeout=10)


def login(client: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/login", json={"username": name, "password": password})
