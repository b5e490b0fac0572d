"""The HTTP client every platform connector uses: retries, rate limits, no leaked secrets.

One policy for all platforms (one home): HTTP 429 waits for ``Retry-After`` (seconds or an HTTP
date, capped); 5xx answers, timeouts and dropped connections are retried with exponential
backoff; then one :class:`SourceError` that names the source and the path, never the
credentials (no userinfo, no ``Authorization``, no token-like query parameters). Next-page
links are followed only on the source's own origin, so credentials are never sent elsewhere.

httpx rather than each platform's SDK (zenpy, atlassian-python-api, pysnow): one retry and
redaction policy that the fake-platform tests exercise the same way for all three, a client
already in kb's dependency tree, and the platforms' REST contracts are small (a few GET paths).
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from core.errors import KbError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
SECRET_PARAMS = frozenset({"token", "access_token", "api_key", "apikey", "password", "secret",
                           "sig", "signature"})


class SourceError(KbError):
    """A platform could not be read: kb removes nothing and keeps the previous watermark.
    ``status`` is the HTTP status that ended the request, when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    tries: int = 5
    backoff_s: float = 1.0
    max_wait_s: float = 60.0
    timeout_s: float = 30.0


def _safe_target(url: str) -> str:
    """The path and query of ``url`` with secret-looking parameters masked."""
    parts = urlsplit(url)
    query = "&".join(p if p.split("=", 1)[0].lower() not in SECRET_PARAMS
                     else p.split("=", 1)[0] + "=***" for p in parts.query.split("&") if p)
    return parts.path + (f"?{query}" if query else "")


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class PlatformClient:
    """GET JSON (or bytes) from one platform, relative to its base URL."""

    def __init__(self, source: str, base_url: str, auth: httpx.Auth | None = None,
                 headers: Mapping[str, str] | None = None, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(f"source {source}: url must be http(s)://HOST[/path], "
                              f"not {base_url!r}")
        if parts.username or parts.password:
            raise SourceError(f"source {source}: put credentials in username_env/password_env "
                              "or token_env, not in the url")
        self.source = source
        self.base_url = base_url.rstrip("/") + "/"
        self.origin = (parts.scheme, parts.hostname, parts.port)
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.requests = 0
        self._client = httpx.Client(auth=auth, headers=dict(headers or {}),
                                    timeout=self.policy.timeout_s, follow_redirects=False,
                                    transport=transport)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path_or_url: str) -> str:
        """An absolute URL on this source's origin (a next-page link elsewhere is refused)."""
        url = urljoin(self.base_url, path_or_url.lstrip("/") if not urlsplit(path_or_url).scheme
                      else path_or_url)
        parts = urlsplit(url)
        if (parts.scheme, parts.hostname, parts.port) != self.origin:
            raise SourceError(f"source {self.source}: refusing to follow a link to another "
                              f"host ({parts.hostname})")
        return url

    def get(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        url = self.url(path_or_url)
        target = _safe_target(str(httpx.URL(url, params=params)) if params else url)
        problem = ""
        for attempt in range(1, self.policy.tries + 1):
            self.requests += 1
            try:
                response = self._client.get(url, params=params)
            except httpx.TimeoutException:
                problem = "timed out"
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__})"
            else:
                if response.status_code == 429:
                    wait = retry_after_s(response.headers.get("Retry-After"))
                    wait = self.policy.backoff_s * 2 ** (attempt - 1) if wait is None else wait
                    problem = "rate limited (HTTP 429)"
                    if attempt < self.policy.tries:
                        log.info("source %s: rate limited, waiting %.1f s", self.source, wait)
                        self.sleep(min(wait, self.policy.max_wait_s))
                    continue
                if response.status_code in RETRY_STATUSES:
                    problem = f"HTTP {response.status_code}"
                elif response.status_code in (401, 403):
                    raise SourceError(f"source {self.source}: GET {target}: HTTP "
                                      f"{response.status_code}: the credentials were refused or "
                                      "lack read access (check the env vars the source names)",
                                      response.status_code)
                elif response.status_code >= 400:
                    raise SourceError(f"source {self.source}: GET {target}: HTTP "
                                      f"{response.status_code}", response.status_code)
                else:
                    return response
            if attempt < self.policy.tries:
                self.sleep(min(self.policy.backoff_s * 2 ** (attempt - 1),
                               self.policy.max_wait_s))
        raise SourceError(f"source {self.source}: GET {target} failed after "
                          f"{self.policy.tries} tries: {problem}")

    def get_json(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self.get(path_or_url, params)
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"source {self.source}: GET {_safe_target(str(response.url))}: "
                              "the answer is not JSON") from None


def auth_from_env(source: str, environ: Mapping[str, str], username_env: str | None,
                  password_env: str | None, token_env: str | None,
                  ) -> tuple[httpx.Auth | None, dict[str, str]]:
    """Basic auth from two env vars, or a bearer token from one. A named variable that is
    unset is an error naming the variable (never its value)."""
    def read(name: str) -> str:
        value = environ.get(name)
        if not value:
            raise SourceError(f"source {source}: environment variable {name} is not set")
        return value

    if token_env:
        return None, {"Authorization": f"Bearer {read(token_env)}"}
    if username_env and password_env:
        return httpx.BasicAuth(read(username_env), read(password_env)), {}
    if username_env or password_env:
        raise SourceError(f"source {source}: set both username_env and password_env "
                          "(or token_env)")
    return None, {}
