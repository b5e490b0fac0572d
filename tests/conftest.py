"""Fixtures shared by every test package: where inputs live, and the two embedders.

Unit tests use the deterministic :class:`~ingest.embed.HashingEmbedder`; integration tests
(``@pytest.mark.integration``) use the real model through the session-scoped ``real_embedder``
(loading it takes several seconds, so it is loaded once per run).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.embed import HashingEmbedder

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# a developer's own Postgres is never written by the tests (KB_TEST_STATE=postgres: see below)
os.environ.pop("KB_DATABASE_URL", None)
# nor a developer's own Chroma server (KB_TEST_CHROMA=server starts one of the tests' own)
os.environ.pop("KB_CHROMA_URL", None)

#: the real corpus lives beside the repo, in the shared folder; never copied into the repo
CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora" / "ms-support"


@pytest.fixture
def hashing_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def real_embedder() -> Any:
    """all-MiniLM-L6-v2 from the packaged files, loaded once for the whole session."""
    from ingest.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """``../shared/corpora/ms-support``; skips the test when the shared corpus is not there."""
    if not (CORPUS / "manifest.jsonl").is_file():
        pytest.skip(f"the ms-support corpus is not at {CORPUS.resolve()} "
                    "(it lives in the shared folder beside the repo)")
    return CORPUS.resolve()


@pytest.fixture(scope="session")
def corpus_manifest(corpus_dir: Path) -> list[dict[str, Any]]:
    """The corpus manifest rows (``article_path``, ``title``, ``ms_date``, ``n_words``...)."""
    with (corpus_dir / "manifest.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server (tests/postgres.py) for the session: the URL of its
    empty database. Skips when the server binaries are not installed (``make postgres``
    installs them; CI fails instead of skipping)."""
    from tests.postgres import find_bin_dir, start_cluster

    bin_dir = find_bin_dir()
    if bin_dir is None:
        reason = ("PostgreSQL's initdb/pg_ctl not found (apt-get install postgresql, or "
                  "make postgres): the Postgres state-store tests are skipped")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = start_cluster(bin_dir)
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(scope="session", autouse=True)
def state_engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """``KB_TEST_STATE=postgres`` runs the tests with every state DB in Postgres: a state DB
    opened without a URL (``state.connect(DATA_DIR/state.sqlite)``) becomes a schema of its
    own in the session's server, upgraded on first use as a new state.sqlite would be; a
    copied data dir (its ``.pg-schema`` note copied with it) gets a copy of that schema."""
    if os.environ.get("KB_TEST_STATE", "sqlite") != "postgres":
        yield "sqlite"
        return
    from core.store import state as state_store
    from tests.postgres import clone_schema, new_schema, schema_of

    base = request.getfixturevalue("postgres_url")
    real_connect = state_store.connect
    schemas: dict[Path, str] = {}

    def connect(path: Path, url: str | None = None) -> Any:
        if url is None:
            key, note = path.resolve(), path.parent / ".pg-schema"
            if key not in schemas:
                if note.exists():  # a copy of a data dir that has its state in Postgres
                    schemas[key] = clone_schema(base, note.read_text())
                else:
                    schemas[key] = new_schema(base)
                    state_store.upgrade(path, schemas[key])
                path.parent.mkdir(parents=True, exist_ok=True)
                note.write_text(schema_of(schemas[key]))
            url = schemas[key]
        return real_connect(path, url)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(state_store, "connect", connect)
        yield "postgres"


@pytest.fixture(scope="session", autouse=True)
def vector_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``KB_TEST_CHROMA=server`` runs the tests with every index's vectors in one ``chroma
    run`` server started for the session (``KB_CHROMA_URL`` set for every command, each data
    dir in a collection of its own), as a deployment with a Chroma server runs kb."""
    if os.environ.get("KB_TEST_CHROMA", "embedded") != "server":
        yield "embedded"
        return
    from tests.chroma import chroma_server

    with chroma_server(tmp_path_factory.mktemp("chroma-session")) as url:
        os.environ["KB_CHROMA_URL"] = url
        try:
            yield "server"
        finally:
            os.environ.pop("KB_CHROMA_URL", None)
