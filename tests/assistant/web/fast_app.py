"""The kb web app in-process, without the model: for the fast route tests.

kb_samples/ is ingested once with the deterministic :class:`~ingest.embed.HashingEmbedder`
as ``kb ingest`` does it, flags included (about 5 s), and the app is built by ``create_app``
exactly as ``kb serve`` builds it, to be driven through FastAPI's ``TestClient`` (no uvicorn,
no browser).
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fastapi import FastAPI

from assistant.users import add_user, issue_token
from assistant.web.app import create_app
from core.paths import live_index, state_db
from core.settings import Settings
from core.store import state as state_store
from ingest.embed import HashingEmbedder
from ingest.update import update_index
from tests.assistant.helpers import KB_SAMPLES

#: the password of every test user
PASSWORD = "correct-horse-battery"
#: user name -> (role, groups); each role's own name is a user of that role without groups
USERS: dict[str, tuple[str, frozenset[str]]] = {
    "agent": ("agent", frozenset()),
    "owner": ("owner", frozenset()),
    "lead": ("lead", frozenset()),
    "admin": ("admin", frozenset()),
    "hr-agent": ("agent", frozenset({"hr"})),
    "throttled": ("agent", frozenset()),  # only the login rate-limit test signs in as this one
}


@dataclass(frozen=True)
class FastKb:
    """The data dir the app serves and a bearer token per user of :data:`USERS`."""

    data_dir: Path
    tokens: dict[str, str]

    def auth(self, name: str | None) -> dict[str, str]:
        """That user's Authorization header (None: anonymous, no header)."""
        return {"Authorization": f"Bearer {self.tokens[name]}"} if name else {}


def build_data_dir(root: Path) -> Path:
    """kb_samples/ ingested into root/data with the HashingEmbedder, flags computed as of
    today (what ``kb ingest`` does); returns the data dir."""
    data_dir = root / "data"
    update_index(live_index(data_dir), state_db(data_dir), KB_SAMPLES, HashingEmbedder(),
                 Settings(data_dir=data_dir, embedder="hashing"), date.today())
    return data_dir


def fast_app(data_dir: Path) -> FastAPI:
    """The app over that data dir with the HashingEmbedder; enter ``TestClient(app)`` with
    ``with`` so its lifespan opens the index and the state DB."""
    settings = Settings(data_dir=data_dir, embedder="hashing", secret_key="test-secret")
    return create_app(settings, HashingEmbedder())


def add_users(data_dir: Path) -> FastKb:
    """Add :data:`USERS` with a token each."""
    with closing(state_store.connect(state_db(data_dir))) as conn:
        for name, (role, groups) in USERS.items():
            add_user(conn, name, role, groups, PASSWORD)
        return FastKb(data_dir, {name: issue_token(conn, name) for name in USERS})
