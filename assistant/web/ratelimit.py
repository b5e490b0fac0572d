"""Login throttling: a few attempts per user name, a few more per client address, then a
pause until the oldest one leaves the window.

An attempt is reserved *before* the password is checked (argon2 takes a while), atomically,
so concurrent attempts count: 30 wrong passwords sent at once get 5 x 401 and 25 x 429.
A successful sign-in gives its reservation back."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class LoginLimiter:
    """At most ``per_user`` failed logins for one user name and ``per_client`` from one client
    address within ``window_s`` seconds (keys ``user:NAME`` / ``ip:ADDR``)."""

    def __init__(self, per_user: int = 5, per_client: int = 20, window_s: float = 300.0) -> None:
        self.limits = {"user": per_user, "ip": per_client}
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def _wait(self, keys: tuple[str, ...], now: float) -> int:
        """Seconds until another attempt is allowed for keys (0: now); hold the lock."""
        waits = []
        for key in keys:
            limit = self.limits[key.split(":", 1)[0]]
            times = self._recent(key, now)
            if len(times) >= limit:
                waits.append(times[-limit] + self.window_s - now)
        return int(max(waits)) + 1 if waits else 0

    def retry_after(self, *keys: str) -> int:
        """Seconds until another attempt is allowed for keys like ``user:NAME`` / ``ip:ADDR``
        (0: allowed now)."""
        with self._lock:
            return self._wait(keys, time.monotonic())

    def reserve(self, *keys: str) -> int:
        """Count an attempt for every key unless one is at its limit, in one step: 0 when the
        attempt may go ahead (it counts as a failure until :meth:`succeeded`), else the
        seconds to wait (nothing counted)."""
        now = time.monotonic()
        with self._lock:
            wait = self._wait(keys, now)
            if not wait:
                for key in keys:
                    self._recent(key, now).append(now)
            return wait

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, key: str, *others: str) -> None:
        """The attempt reserved for ``key`` (a user name) and ``others`` (its client address)
        succeeded: the name's failures are forgotten, the address gets its attempt back."""
        with self._lock:
            self._failures.pop(key, None)
            for other in others:
                times = self._failures.get(other)
                if times:
                    times.pop()
