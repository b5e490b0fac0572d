"""What the web app opens once in its lifespan and shares between requests.

:class:`LiveKb` holds the assistant and re-opens the search index when ``DATA_DIR/LIVE``
changes (``kb promote`` while the server runs); :class:`StateDb` serialises use of the state
database's connection; :class:`LockedEmbedder` lets one request at a time use the model.

Each process serving the app (a ``kb serve``, or each of its ``--workers``) opens its own;
what several must agree on lives outside them: the LIVE pointer (read on every request, so a
promotion reaches every process at its next request), the state DB (sessions, API tokens,
sign-in attempts, feedback, reviews) and the cookie key (``KB_SECRET_KEY`` or
``DATA_DIR/secret_key``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from itsdangerous import URLSafeTimedSerializer

from assistant import users
from assistant.service import Assistant, assistant_from_settings, reopened
from assistant.web.ratelimit import LoginLimiter
from core.paths import live_index, read_pointer, state_db
from core.settings import Settings
from core.store import catalog
from core.store import state as state_store
from core.store.db import Connection, ping
from core.types import Article, ArticleFacts
from ingest.embed import Embedder
from ingest.quality.policy import QualityPolicy


class LockedEmbedder:
    """An embedder that serves one caller at a time (the model is not shared across threads)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.lock = threading.Lock()

    def embed(self, texts: Sequence[str], progress: bool = False) -> list[list[float]]:
        with self.lock:
            return self.inner.embed(texts, progress)


class StateDb:
    """The state database (users, answers, feedback, flags' states), one user at a time:
    ``DATA_DIR/state.sqlite``, or Postgres with ``url`` (``KB_DATABASE_URL``)."""

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.path = path
        self.conn = state_store.connect(path, url)
        self.lock = threading.RLock()

    @contextmanager
    def use(self) -> Iterator[Connection]:
        with self.lock:
            yield self.conn

    def check(self) -> None:
        """Read it through the open connection, then through a fresh one (SQLite: read-only,
        which sees a file damaged on disk; Postgres: a new session, which sees the server)."""
        with self.use() as conn:
            ping(conn)
        if isinstance(self.conn, sqlite3.Connection):
            _read_afresh(self.path)
        else:
            with closing(state_store.connect(self.path, getattr(self.conn, "url", None))):
                pass


class LiveKb:
    """The assistant over the live index, swapped for a new one when LIVE changes."""

    def __init__(self, data_dir: Path, embedder: Embedder, settings: Settings, llm: Any = None):
        self.data_dir = data_dir
        self.lock = threading.RLock()
        self.live_name = read_pointer(data_dir, "LIVE")
        self.settings = settings
        self.assistant = assistant_from_settings(settings, embedder, llm)
        self._articles: list[Article] | None = None
        #: flags of every article of the live index (assistant.review_queue.queue's cache)
        self.flag_cache: dict = {}
        self.reviewed_mark = catalog.change_marks(self.assistant.index.conn)[1]

    def _changed(self) -> tuple[bool, bool]:
        """(Did LIVE name another index or an ingest change the live one in place, did some
        process mark an article reviewed since this one last looked?)"""
        if read_pointer(self.data_dir, "LIVE") != self.live_name:
            return True, True
        index = self.assistant.index
        fingerprint, reviewed = catalog.change_marks(index.conn)
        return fingerprint != index.fingerprint, reviewed != self.reviewed_mark

    def current(self) -> Assistant:
        """The assistant, after re-opening the index if it changed, or re-reading its
        articles' review dates if another process marked one reviewed (two cheap reads)."""
        if any(self._changed()):
            with self.lock:
                index_changed, reviewed = self._changed()
                if index_changed:
                    name = read_pointer(self.data_dir, "LIVE")
                    self.assistant = reopened(self.assistant, self.settings,
                                              live_index(self.data_dir, create=False))
                    self.live_name = name
                    self.reviewed_mark = catalog.change_marks(self.assistant.index.conn)[1]
                elif reviewed:
                    index = self.assistant.index
                    # the mark first: a review marked while the facts are re-read is seen
                    # at the next request instead of being lost
                    self.reviewed_mark = catalog.change_marks(index.conn)[1]
                    index.articles[:] = catalog.article_facts(index.conn)
                    self.assistant.forget_freshness()
                if index_changed or reviewed:
                    self._articles = None
                    self.flag_cache = {}
        return self.assistant

    def facts(self, article_id: str) -> ArticleFacts | None:
        index = self.current().index
        row = index.article_row.get(article_id)
        return None if row is None else index.articles[row]

    def article(self, article_id: str) -> Article | None:
        with self.lock:
            return catalog.get_article(self.current().index.conn, article_id)

    def articles(self) -> list[Article]:
        """Every article of the live index with its blocks (read once per index)."""
        assistant = self.current()
        with self.lock:
            if self._articles is None:
                self._articles = list(catalog.iter_articles(assistant.index.conn))
            return self._articles


@dataclass
class WebKb:
    """Everything a request handler may need, built once in the lifespan."""

    settings: Settings
    live: LiveKb
    state: StateDb
    signer: URLSafeTimedSerializer
    secret: str
    policy: QualityPolicy
    #: sign-in attempts, counted in the state DB (every instance sharing it counts together)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    max_question_chars: int = 1000

    def broken_stores(self) -> dict[str, str]:
        """``/healthz``'s check of the live catalog and the state DB: a quick read of each
        through its open connection, and one through a fresh read-only connection (pages the
        open one cached or holds in its WAL would hide a file damaged on disk). The error of
        each store that fails; empty when both read."""
        broken = {}
        data_dir = self.settings.data_dir
        try:
            index = self.live.current().index  # reads the catalog's fingerprint
            with self.live.lock:
                index.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            _read_afresh(live_index(data_dir, create=False).catalog)
        except Exception as exc:  # whatever it is, the index cannot serve
            broken["catalog"] = f"{type(exc).__name__}: {exc}"
        try:
            self.state.check()
        except Exception as exc:
            broken["state"] = f"{type(exc).__name__}: {exc}"
        return broken


def _read_afresh(path: Path) -> None:
    """Read a database's schema and the first page of each table through a new read-only
    connection (no migration, no lock, nothing cached): a few pages, whatever the size."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            conn.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone()


def open_web_kb(settings: Settings, embedder: Embedder, llm: Any = None) -> WebKb:
    from ingest.quality.policy import policy_from_settings

    data_dir = settings.data_dir
    policy = policy_from_settings(settings)
    live = LiveKb(data_dir, LockedEmbedder(embedder), settings, llm)
    state = StateDb(state_db(data_dir), settings.database_url)
    secret = users.load_secret(data_dir, settings.secret_key)
    return WebKb(settings, live, state, URLSafeTimedSerializer(secret, salt="kb-session"),
                 secret, policy, LoginLimiter(db=state.use))
