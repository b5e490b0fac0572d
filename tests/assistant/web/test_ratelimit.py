"""Login throttling per user name and per client address."""

from __future__ import annotations

from assistant.web.ratelimit import LoginLimiter


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
