"""Login throttling: a few failures per user name, a few more per client address, then a
pause until the oldest failure leaves the window."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class LoginLimiter:
    """At most ``per_user`` failed logins for one user name and ``per_client`` from one client
    address within ``window_s`` seconds."""

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

    def retry_after(self, *keys: str) -> int:
        """Seconds until another attempt is allowed for keys like ``user:NAME`` / ``ip:ADDR``
        (0: allowed now)."""
        now = time.monotonic()
        waits = []
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.limits[key.split(":", 1)[0]]:
                    waits.append(times[-self.limits[key.split(":", 1)[0]]] + self.window_s - now)
        return int(max(waits)) + 1 if waits else 0

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
