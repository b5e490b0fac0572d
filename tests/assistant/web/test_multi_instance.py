"""Several kb instances as one service (issue 14): real ``kb serve`` processes on loopback
ports sharing one data dir (kb_samples/ ingested with the hashing embedder) and one real
Postgres state DB (a throwaway cluster, ``tests/postgres.py``; skipped with a reason when the
server binaries are missing).

- a session made on one instance, and an API token, are valid on the other;
- sign-in limits count the attempts made to both instances together;
- ~20 concurrent clients spread over two instances post feedback and owners' actions for
  ``KB_MULTI_LOAD_S`` seconds (default 15; the issue's figure is 60): every write is stored
  exactly once, and after one instance is killed with SIGKILL mid-load the other keeps
  serving, with no 5xx (only connection errors to the dead one);
- ``kb serve --workers 2`` serves from two processes with one session;
- ``kb promote`` reaches every instance and every worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from assistant import users
from core.paths import live_index, state_db
from core.settings import Settings
from core.store import pg
from core.store import state as state_store
from ingest.embed import HashingEmbedder
from ingest.update import update_index
from tests.assistant.helpers import KB_SAMPLES
from tests.assistant.web.conftest import free_port
from tests.postgres import new_schema

pytestmark = pytest.mark.slow

KB = str(Path(sys.executable).parent / "kb")
#: how long the load runs, in seconds (the issue asks for 60; make test runs 15)
LOAD_SECONDS = float(os.environ.get("KB_MULTI_LOAD_S", "15"))
CLIENTS = 20
PASSWORD = "correct-horse-battery"
USERS = {"admin": "admin", "agent": "agent", "throttled": "agent"}
QUESTIONS = ("How do I reset my VPN password?", "The printer says paper jam",
             "How do I set up MFA on a new phone?", "Outlook keeps asking for my password")


@dataclass(frozen=True)
class Shared:
    """The data dir every instance serves, its Postgres state DB, the users' API tokens."""

    data_dir: Path
    database_url: str
    tokens: dict[str, str]

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KB_EMBEDDER": "hashing", "KB_DATABASE_URL": self.database_url}

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def rows(self, sql: str, *params: Any) -> list[Any]:
        with closing(pg.PgConnection(self.database_url)) as conn:
            return conn.execute(sql, params).fetchall()


@dataclass
class Instance:
    """One ``kb serve`` process (its own process group: stopping it stops its workers)."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)


@dataclass(frozen=True)
class Session:
    """A signed-in browser session: its cookies and CSRF token, as request headers."""

    cookie: str
    csrf: str

    def headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie, "X-CSRF-Token": self.csrf}


def launch(shared: Shared, root: Path, workers: int = 1) -> Instance:
    port = free_port()
    log = root / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([KB, "serve", "--data-dir", str(shared.data_dir), "--port",
                                 str(port), "--workers", str(workers)], env=shared.env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return Instance(f"http://127.0.0.1:{port}", proc, log)


def wait_ready(*instances: Instance, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for inst in instances:
        while True:
            if inst.proc.poll() is not None or time.monotonic() > deadline:
                inst.stop()
                raise RuntimeError(f"kb serve did not start:\n{inst.log.read_text()}")
            try:
                if httpx.get(f"{inst.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)


@contextmanager
def serving(shared: Shared, root: Path) -> Iterator[Callable[..., list[Instance]]]:
    """Starts ``kb serve`` instances (``run(2)``, ``run(1, workers=2)``), ready to serve;
    every one is stopped on leaving the block, whatever happened."""
    started: list[Instance] = []

    def run(count: int, workers: int = 1) -> list[Instance]:
        new = [launch(shared, root, workers) for _ in range(count)]
        started.extend(new)
        wait_ready(*new)
        return new

    try:
        yield run
    finally:
        for inst in started:
            inst.stop()


@pytest.fixture
def start(shared: Shared, tmp_path: Path) -> Iterator[Callable[..., list[Instance]]]:
    """Instances of the test's own (stopped when it ends)."""
    with serving(shared, tmp_path) as run:
        yield run


@pytest.fixture(scope="module")
def pair(shared: Shared, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Instance, Instance]]:
    """Two single-process instances, started at once, for the module."""
    with serving(shared, tmp_path_factory.mktemp("pair")) as run:
        a, b = run(2)
        yield a, b


@pytest.fixture(scope="module")
def workers2(shared: Shared, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """``kb serve --workers 2`` for the module."""
    with serving(shared, tmp_path_factory.mktemp("workers")) as run:
        (served,) = run(1, workers=2)
        yield served


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Shared:
    """kb_samples/ ingested as ``kb ingest`` does (hashing embedder), its state in a new
    Postgres schema made by ``kb db upgrade``'s code, with the users of :data:`USERS`."""
    data_dir = tmp_path_factory.mktemp("multi") / "data"
    url = new_schema(postgres_url)
    state_store.upgrade(state_db(data_dir), url)
    settings = Settings(data_dir=data_dir, embedder="hashing", database_url=url)
    update_index(live_index(data_dir), state_db(data_dir), KB_SAMPLES, HashingEmbedder(),
                 settings, date.today())
    with closing(state_store.connect(state_db(data_dir), url)) as conn:
        tokens = {}
        for name, role in USERS.items():
            users.add_user(conn, name, role, frozenset(), PASSWORD)
            tokens[name] = users.issue_token(conn, name)
    assert not state_db(data_dir).exists()  # the state is in Postgres only
    return Shared(data_dir, url, tokens)


def sign_in(url: str, name: str = "admin") -> Session:
    response = httpx.post(f"{url}/api/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    cookie = "; ".join(f"{k}={v}" for k, v in response.cookies.items())
    return Session(cookie, response.json()["csrf_token"])


def health(url: str, shared: Shared) -> dict[str, Any]:
    """``/healthz`` as an admin, on a new connection (with workers: any of them answers)."""
    response = httpx.get(f"{url}/healthz", headers=shared.bearer("admin"), timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def ask(url: str, headers: dict[str, str], question: str) -> str:
    response = httpx.post(f"{url}/api/ask", json={"question": question}, headers=headers,
                          timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["answer_id"])


# --- sessions and tokens -------------------------------------------------------------------

def test_a_session_made_on_one_instance_is_valid_on_the_other(
        shared: Shared, pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    session = sign_in(a.url)
    assert (shared.data_dir / "secret_key").exists()  # the one cookie key, made once
    me = httpx.get(f"{b.url}/api/me", headers={"Cookie": session.cookie})
    assert me.status_code == 200 and me.json()["name"] == "admin"
    answer_id = ask(a.url, session.headers(), QUESTIONS[0])
    given = httpx.post(f"{b.url}/api/feedback", headers=session.headers(),
                       json={"answer_id": answer_id, "helpful": True, "comment": "from b"})
    assert given.status_code == 200, given.text  # cookie and CSRF token made on a, used on b
    for inst in (a, b):
        assert httpx.get(f"{inst.url}/api/me", headers=shared.bearer("agent")).json()[
            "name"] == "agent"
    assert httpx.post(f"{b.url}/api/logout", headers=session.headers()).status_code == 204
    assert httpx.get(f"{a.url}/api/me", headers={"Cookie": session.cookie}).status_code == 401


# --- sign-in limits ------------------------------------------------------------------------

def test_sign_in_limits_count_the_attempts_made_to_both_instances(
        shared: Shared, pair: tuple[Instance, Instance]) -> None:
    """30 wrong passwords at once, alternately to each instance: 5 x 401 and 25 x 429, as on
    one instance; then even the right password is refused on both."""
    a, b = pair

    def wrong(i: int) -> int:
        url = (a, b)[i % 2].url
        return httpx.post(f"{url}/api/login", timeout=60,
                          json={"username": "throttled", "password": "wrong"}).status_code

    with ThreadPoolExecutor(30) as pool:
        assert Counter(pool.map(wrong, range(30))) == {401: 5, 429: 25}
    for inst in (a, b):
        right = httpx.post(f"{inst.url}/api/login",
                           json={"username": "throttled", "password": PASSWORD})
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0
    assert shared.rows("SELECT count(*) FROM login_attempts WHERE key = ?",
                       "user:throttled")[0][0] == 5


# --- load, exactly-once writes, kill -9 ----------------------------------------------------

@dataclass
class Outcome:
    instance: int
    kind: str  # "feedback" or "reassign"
    mark: str  # the unique text the write carries (feedback comment, new owner)
    ended: float
    status: int | None = None
    error: str | None = None


@dataclass
class Load:
    """What the clients did; ``kill_at``: when instance 0 was killed (monotonic)."""

    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    kill_at: float = float("inf")

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)


def client_loop(n: int, urls: list[str], auth: dict[str, str], answers: list[str],
                flags: list[str], stop_at: float, load: Load) -> None:
    """One client: alternately feedback and an owner reassignment, each request to the next
    instance in turn, each write carrying a mark no other write has."""
    with httpx.Client(headers=auth, timeout=30) as client:
        i = 0
        while time.monotonic() < stop_at:
            which = (n + i) % len(urls)
            mark = f"load-{uuid.uuid4().hex}"
            if i % 2 == 0:
                kind, path = "feedback", "/api/feedback"
                body: dict[str, Any] = {"answer_id": answers[i % len(answers)],
                                        "helpful": True, "comment": mark}
            else:
                kind, path = "reassign", f"/api/flags/{flags[(n + i) % len(flags)]}/actions"
                body = {"action": "reassign", "owner": f"{mark}@example.test"}
            try:
                response = client.post(urls[which] + path, json=body)
                load.add(Outcome(which, kind, mark, time.monotonic(), response.status_code))
            except httpx.TransportError as exc:
                load.add(Outcome(which, kind, mark, time.monotonic(), error=type(exc).__name__))
                time.sleep(0.05)
            i += 1


def stored_marks(shared: Shared) -> Counter[str]:
    feedback = shared.rows("SELECT comment FROM feedback WHERE comment LIKE 'load-%'")
    owners = shared.rows("SELECT to_owner FROM owner_events WHERE to_owner LIKE 'load-%'")
    return Counter([r[0] for r in feedback] +
                   [r[0].removesuffix("@example.test") for r in owners])


def test_load_over_two_instances_stores_each_write_once_and_survives_a_kill_9(
        shared: Shared, start: Callable[..., list[Instance]]) -> None:
    a, b = start(2)
    urls = [a.url, b.url]
    session = sign_in(a.url)  # half the clients use a's session cookie, on both instances
    answers = [ask(urls[i % 2], shared.bearer("agent"), q) for i, q in enumerate(QUESTIONS)]
    flags = httpx.get(f"{b.url}/api/flags", headers=shared.bearer("admin")).json()["items"]
    flag_ids = [f["id"] for f in flags[:8]]
    assert flag_ids
    load = Load()
    began = time.monotonic()
    stop_at = began + LOAD_SECONDS
    auths = [session.headers() if n % 2 else shared.bearer("admin") for n in range(CLIENTS)]
    threads = [threading.Thread(target=client_loop, args=(n, urls, auths[n], answers, flag_ids,
                                                          stop_at, load))
               for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(LOAD_SECONDS / 2)
        load.kill_at = time.monotonic()
        os.kill(a.proc.pid, signal.SIGKILL)  # `kb serve` itself: one process, no workers
    finally:
        for thread in threads:
            thread.join(timeout=LOAD_SECONDS + 60)
    assert a.proc.wait(timeout=10) == -signal.SIGKILL

    outcomes = load.outcomes
    statuses = Counter((o.instance, o.status or o.error) for o in outcomes)
    ok = [o for o in outcomes if o.status == 200]
    ambiguous = {o.mark for o in outcomes if o.error and o.instance == 0}
    stored = stored_marks(shared)
    survived = sum(o.instance == 1 and o.ended > load.kill_at for o in ok)
    summary = {"seconds": LOAD_SECONDS, "clients": CLIENTS, "requests": len(outcomes),
               "ok": len(ok), "stored": sum(stored.values()),
               "ok_feedback": sum(o.kind == "feedback" for o in ok),
               "ok_reassign": sum(o.kind == "reassign" for o in ok),
               "stored_without_response": len(set(stored) - {o.mark for o in ok}),
               "b_ok_after_kill": survived,
               "statuses": {f"{'ab'[i]} {s}": n for (i, s), n in sorted(
                   statuses.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))}}
    print("\nmulti-instance load:", json.dumps(summary))

    # no 5xx, and nothing but 200 from the instance that lived
    assert not [o for o in outcomes if o.status and o.status >= 500]
    assert {o.status for o in outcomes if o.instance == 1} == {200}
    # only connection errors, only to the killed instance, only once it was killed
    assert all(o.instance == 0 and o.ended >= load.kill_at for o in outcomes if o.error)
    assert all(o.status == 200 for o in outcomes if o.instance == 0 and o.ended < load.kill_at)
    assert survived >= CLIENTS  # the other instance kept serving
    # exactly once: every answered write stored once, nothing stored twice, and a write stored
    # without an answer only when the killed instance dropped the connection
    assert max(stored.values()) == 1
    assert {o.mark for o in ok} <= set(stored)
    assert set(stored) - {o.mark for o in ok} <= ambiguous
    assert len(ok) >= 10 * CLIENTS * LOAD_SECONDS / 60  # not a run where nothing happened


# --- --workers, promotion ------------------------------------------------------------------

def processes_seen(url: str, shared: Shared, headers: dict[str, str], want: int,
                   check: Callable[[dict[str, Any]], bool] = lambda body: True,
                   timeout: float = 60) -> dict[int, dict[str, Any]]:
    """``/healthz`` on new connections until ``want`` processes answered with a body that
    passes ``check``: process id -> its last such body."""
    seen: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        response = httpx.get(f"{url}/healthz", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        if check(body):
            seen[body["process"]] = body
    return seen


def test_kb_serve_workers_2_serves_one_session_from_both_processes(
        shared: Shared, workers2: Instance) -> None:
    served = workers2
    session = sign_in(served.url)  # a session made in whichever worker took the sign-in
    seen = processes_seen(served.url, shared, {"Cookie": session.cookie}, 2)
    workers = {p.pid for p in psutil.Process(served.proc.pid).children(recursive=True)}
    assert len(seen) == 2 and set(seen) <= workers  # both workers knew the session
    live = (shared.data_dir / "LIVE").read_text().strip()
    assert all(body["status"] == "ok" and body["index"] == live for body in seen.values())
    for _ in range(4):
        me = httpx.get(f"{served.url}/api/me", headers={"Cookie": session.cookie})
        assert me.status_code == 200 and me.json()["name"] == "admin"


def test_a_promotion_reaches_every_instance_and_every_worker(
        shared: Shared, pair: tuple[Instance, Instance], workers2: Instance) -> None:
    """Last in the module: it makes a staging index of kb_samples/printing/ live."""
    (a, b), workers = pair, workers2
    before = health(a.url, shared)["index"]
    assert health(b.url, shared)["index"] == before
    for command in (["ingest", str(KB_SAMPLES / "printing"), "--stage"],
                    ["promote", "--force", "--by", "test"]):
        done = subprocess.run([KB, *command, "--data-dir", str(shared.data_dir)],
                              env=shared.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    after = (shared.data_dir / "LIVE").read_text().strip()
    assert after != before
    printing = sum(not p.name.endswith(".meta.yaml") for p in (KB_SAMPLES / "printing").iterdir())
    for inst in (a, b):  # the next request after the switch is served from the new index
        body = health(inst.url, shared)
        assert (body["index"], body["articles"]) == (after, printing)
    seen = processes_seen(workers.url, shared, shared.bearer("admin"), 2,
                          lambda body: body["index"] == after)
    assert len(seen) == 2 and all(body["articles"] == printing for body in seen.values())
