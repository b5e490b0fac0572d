"""Login throttling per user name and per client address, counted in the state DB."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.web.ratelimit import LoginLimiter
from core.store import state as state_store
from core.store.db import Connection


def test_user_is_paused_after_the_allowed_failures() -> None:
    limiter = LoginLimiter(per_user=3, per_client=10, window_s=60)
    for _ in range(2):
        limiter.failed("user:ana", "ip:1.2.3.4")
    assert limiter.retry_after("user:ana", "ip:1.2.3.4") == 0
    limiter.failed("user:ana", "ip:1.2.3.4")
    assert 0 < limiter.retry_after("user:ana", "ip:1.2.3.4") <= 61
    assert limiter.retry_after("user:bob", "ip:1.2.3.4") == 0
    limiter.succeeded("user:ana")
    assert limiter.retry_after("user:ana") == 0


def test_client_address_has_its_own_limit() -> None:
    limiter = LoginLimiter(per_user=3, per_client=4, window_s=60)
    for name in "abcd":
        limiter.failed(f"user:{name}", "ip:9.9.9.9")
    assert limiter.retry_after("user:e", "ip:9.9.9.9") > 0
    assert limiter.retry_after("user:e", "ip:8.8.8.8") == 0


def test_failures_leave_the_window() -> None:
    limiter = LoginLimiter(per_user=1, per_client=5, window_s=0.0)
    limiter.failed("user:ana")
    assert limiter.retry_after("user:ana") == 0


def test_limiters_sharing_a_state_db_count_together(tmp_path: Path) -> None:
    """Two limiters on their own connections to one state.sqlite, as two processes (workers,
    instances) would be: the attempts made through either count for both."""
    first, second = (limiter_on(state_store.connect(tmp_path / "state.sqlite"))
                     for _ in range(2))
    for limiter in (first, second, first):
        assert limiter.reserve("user:ana", "ip:a") == 0
    assert second.reserve("user:ana", "ip:b") > 0  # 3 of 3 for the name, whoever counted
    first.succeeded("user:ana", "ip:a")
    assert second.reserve("user:ana", "ip:a") == 0


def test_concurrent_reservations_on_two_connections_never_pass_the_limit(
        tmp_path: Path) -> None:
    limiters = [limiter_on(state_store.connect(tmp_path / "state.sqlite")) for _ in range(2)]
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda i: limiters[i % 2].reserve("user:ana", f"ip:{i}"),
                              range(24)))
    assert waits.count(0) == 3


def test_the_window_is_wall_clock_time_and_old_attempts_are_deleted(tmp_path: Path) -> None:
    conn = state_store.connect(tmp_path / "state.sqlite")
    now = [1_000_000.0]
    limiter = limiter_on(conn, clock=lambda: now[0])
    limiter.failed("user:ana", "ip:a")
    assert limiter.retry_after("user:ana") == 0
    for _ in range(2):
        limiter.failed("user:ana")
    assert limiter.retry_after("user:ana") == 61  # the oldest leaves in 60 s
    now[0] += 60
    assert limiter.retry_after("user:ana") == 0
    assert conn.execute("SELECT count(*) FROM login_attempts").fetchone()[0] == 0


def limiter_on(conn: Connection, **kwargs: Any) -> LoginLimiter:
    """A limiter (3 per name, 10 per address, 60 s) counting in ``conn``'s database."""
    lock = threading.Lock()

    @contextmanager
    def use() -> Iterator[Connection]:
        with lock:
            yield conn

    return LoginLimiter(per_user=3, per_client=10, window_s=60, db=use, **kwargs)
