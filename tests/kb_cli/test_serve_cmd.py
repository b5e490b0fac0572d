"""``kb serve``: what the parent prepares before ``--workers`` start, and the factory each
worker builds the app with (the processes themselves: tests/assistant/web/test_multi_instance.py).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.paths import live_index, state_db
from core.settings import Settings
from ingest.embed import HashingEmbedder
from ingest.update import update_index
from kb_cli import serve_cmd
from kb_cli.main import main
from tests.assistant.helpers import KB_SAMPLES


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """kb_samples/access ingested with the hashing embedder; its state.sqlite removed, as on
    a data dir restored without it."""
    data_dir = tmp_path / "data"
    update_index(live_index(data_dir), state_db(data_dir), KB_SAMPLES / "access",
                 HashingEmbedder(), Settings(data_dir=data_dir, embedder="hashing"),
                 date(2026, 11, 25))
    state_db(data_dir).unlink()
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    return data_dir


def test_workers_must_be_at_least_one(data_dir: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    assert main(["serve", "--data-dir", str(data_dir), "--workers", "0"]) == 2
    assert capsys.readouterr().err == "kb serve: --workers 0: at least 1\n"


def test_the_parent_prepares_the_state_db_and_key_then_hands_the_factory_to_uvicorn(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    started: list[Any] = []

    class Supervisor:
        def __init__(self, config: Any, sockets: list[Any]) -> None:
            started.append(config)
            for sock in sockets:
                sock.close()

        def run(self) -> None:
            # what a worker finds: the state DB made and migrated once, the key in place
            started.append((state_db(data_dir).exists(), (data_dir / "secret_key").exists(),
                            os.environ["KB_DATA_DIR"]))

    monkeypatch.setattr("uvicorn.supervisors.Multiprocess", Supervisor)
    monkeypatch.delenv("KB_DATA_DIR", raising=False)  # the command sets it for the workers
    assert main(["serve", "--data-dir", str(data_dir), "--port", "0", "--workers", "3"]) == 0
    config, seen = started
    assert (config.app, config.factory, config.workers) == (serve_cmd.APP_FACTORY, True, 3)
    assert config.proxy_headers is False
    assert seen == (True, True, str(data_dir.resolve()))
    assert "with 3 workers" in capsys.readouterr().out


def test_a_worker_builds_the_app_from_the_environment(data_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_DATA_DIR", str(data_dir))
    with TestClient(serve_cmd.app_from_env()) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
    assert state_db(data_dir).exists()
