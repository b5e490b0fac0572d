"""Login throttling: a few attempts per user name, a few more per client address, then a
pause until the oldest one leaves the window.

An attempt is reserved *before* the password is checked (argon2 takes a while), atomically,
so concurrent attempts count: 30 wrong passwords sent at once get 5 x 401 and 25 x 429.
A successful sign-in gives its reservation back.

The attempts are rows of the state DB's ``login_attempts`` (``core/store/state.py``), so
every instance and every worker sharing one state DB (Postgres, or one ``state.sqlite``)
counts them together: 3 wrong passwords on one instance and 3 on another are 6. Each call is
one transaction serialized with every other (``core.store.db.serialize``: SQLite's write lock
taken first, a Postgres advisory lock), so a check and its insert are one step everywhere.
Times are wall-clock seconds (``time.time()``): instances on several hosts need their
clocks in sync (NTP) for the window to mean the same thing on each. Without a state DB
(``LoginLimiter()`` alone, as in unit tests) the same code runs on a private in-memory
SQLite database.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from core.store.db import Connection, serialize
from core.store.state import LOGIN_ATTEMPTS

#: hands out the state DB's connection for the length of a ``with`` block
ConnectionSource = Callable[[], AbstractContextManager[Connection]]


def private_db() -> ConnectionSource:
    """A connection source over a new in-memory SQLite database holding only the table."""
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.executescript(LOGIN_ATTEMPTS)
    lock = threading.Lock()

    @contextmanager
    def use() -> Iterator[Connection]:
        with lock:
            yield conn

    return use


class LoginLimiter:
    """At most ``per_user`` failed logins for one user name and ``per_client`` from one client
    address within ``window_s`` seconds (keys ``user:NAME`` / ``ip:ADDR``), counted in the
    database ``db`` hands out (default: a private in-memory one)."""

    def __init__(self, per_user: int = 5, per_client: int = 20, window_s: float = 300.0,
                 db: ConnectionSource | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.limits = {"user": per_user, "ip": per_client}
        self.window_s = window_s
        self.db = db or private_db()
        self.clock = clock

    @contextmanager
    def _transaction(self) -> Iterator[tuple[Connection, float]]:
        """The connection inside a transaction that holds the limiter's lock, and the time;
        attempts that left the window are deleted first."""
        with self.db() as conn, conn:
            serialize(conn, "login_attempts")
            now = self.clock()
            conn.execute("DELETE FROM login_attempts WHERE at <= ?", (now - self.window_s,))
            yield conn, now

    def _wait(self, conn: Connection, keys: tuple[str, ...], now: float) -> int:
        """Seconds until another attempt is allowed for keys (0: now)."""
        waits = []
        for key in keys:
            limit = self.limits[key.split(":", 1)[0]]
            times = [row[0] for row in conn.execute(
                "SELECT at FROM login_attempts WHERE key = ? AND at > ? ORDER BY at DESC "
                "LIMIT ?", (key, now - self.window_s, limit)).fetchall()]
            if len(times) >= limit:  # the oldest of the last `limit` must leave the window
                waits.append(times[-1] + self.window_s - now)
        return int(max(waits)) + 1 if waits else 0

    @staticmethod
    def _count(conn: Connection, keys: tuple[str, ...], now: float) -> None:
        conn.executemany("INSERT INTO login_attempts (key, at) VALUES (?, ?)",
                         [(key, now) for key in keys])

    def retry_after(self, *keys: str) -> int:
        """Seconds until another attempt is allowed for keys like ``user:NAME`` / ``ip:ADDR``
        (0: allowed now)."""
        with self._transaction() as (conn, now):
            return self._wait(conn, keys, now)

    def reserve(self, *keys: str) -> int:
        """Count an attempt for every key unless one is at its limit, in one step: 0 when the
        attempt may go ahead (it counts as a failure until :meth:`succeeded`), else the
        seconds to wait (nothing counted)."""
        with self._transaction() as (conn, now):
            wait = self._wait(conn, keys, now)
            if not wait:
                self._count(conn, keys, now)
            return wait

    def failed(self, *keys: str) -> None:
        with self._transaction() as (conn, now):
            self._count(conn, keys, now)

    def succeeded(self, key: str, *others: str) -> None:
        """The attempt reserved for ``key`` (a user name) and ``others`` (its client address)
        succeeded: the name's failures are forgotten, the address gets its attempt back."""
        with self._transaction() as (conn, _):
            conn.execute("DELETE FROM login_attempts WHERE key = ?", (key,))
            for other in others:
                conn.execute("DELETE FROM login_attempts WHERE id = (SELECT max(id) FROM "
                             "login_attempts WHERE key = ?)", (other,))
