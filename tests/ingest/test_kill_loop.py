"""``kb ingest`` killed (SIGKILL) at random points and at each named phase of its writes.

After each kill the index must open and answer, the catalog must list only chunks that have a
vector, and the next run must leave it healthy: the catalog's fingerprint present and equal
to a fresh rebuild's, BM25 and ``vectors.npz`` built for it, Chroma holding exactly the
catalog's chunks. Before the fix, a kill after the catalog commit but before the fingerprint
was stored was never repaired (a running server then re-opened the index on every request).

``KB_KILL_POINTS`` sets the number of random kill points (default 6; ``make kill-loop``: 20),
``KB_KILL_SEED`` the seed of their delays and of the edits between runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from assistant.service import ask, open_assistant
from assistant.types import Viewer
from core.paths import live_index
from core.store import catalog
from ingest import matrix, vectors
from ingest.embed import HashingEmbedder
from tests.env import child_env

pytestmark = pytest.mark.slow

PHASES = ("after-catalog", "after-bm25", "after-vectors")
_VOCABULARY = """printer spooler queue vpn password reset outlook mailbox profile wifi guest
voucher teams meeting audio driver update restart service account locked certificate expired
browser cache proxy laptop dock monitor screen battery"""
WORDS = _VOCABULARY.split()
AS_OF = date(2026, 11, 25)
# read at import: the ingest tests' autouse fixture clears KB_* variables before each test
KILL_POINTS = int(os.environ.get("KB_KILL_POINTS") or 6)
KILL_SEED = int(os.environ.get("KB_KILL_SEED") or time.time_ns() % 100_000)


def article(rng: random.Random, number: int) -> str:
    topic = " ".join(rng.sample(WORDS, 3))
    steps = "\n".join(f"{i}. {' '.join(rng.sample(WORDS, 6))}." for i in range(1, 4))
    return (f"---\ntitle: Article {number} - {topic}\nowner: owner{number % 5}@example.com\n"
            f"last_reviewed: 2026-06-01\n---\n# Article {number} - {topic}\n\n## Symptoms\n\n"
            f"{' '.join(rng.sample(WORDS, 12))}.\n\n## Resolution\n\n{steps}\n")


def make_kb(folder: Path, rng: random.Random, count: int = 40) -> Path:
    folder.mkdir()
    for number in range(count):
        (folder / f"a{number:03d}.md").write_text(article(rng, number))
    return folder


def mutate(kb: Path, rng: random.Random, step: int) -> None:
    """Edit four articles, delete one and add one: a run with every kind of write."""
    files = sorted(kb.glob("*.md"))
    for path in rng.sample(files, 4):
        path.write_text(path.read_text() + f"\n{' '.join(rng.sample(WORDS, 8))} ({step}).\n")
    rng.choice(files).unlink()
    (kb / f"new{step:03d}.md").write_text(article(rng, 1000 + step))


def kb_ingest(kb: Path, data: Path, kill_after: float | None = None,
              kill_at: str | None = None) -> tuple[int, float]:
    """Run ``kb ingest`` in a subprocess; SIGKILL it after ``kill_after`` seconds, or let the
    test hook kill it at phase ``kill_at``. Returns (exit status, seconds)."""
    env = child_env()
    env.update(KB_EMBEDDER="hashing", **({"KB_TEST_KILL_AT": kill_at} if kill_at else {}))
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "kb_cli.main", "ingest", str(kb),
                             "--data-dir", str(data), "--json", "--as-of", AS_OF.isoformat()],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=kill_after or 180)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
    assert proc.returncode in (0, -signal.SIGKILL), err.decode()[-2000:]
    return proc.returncode, time.monotonic() - started


def assert_opens_and_answers(data: Path, probe: Path) -> None:
    """On a copy (opening may rebuild derived files): answers, and no chunk lacks a vector."""
    shutil.copytree(data, probe)
    paths = live_index(probe, create=False)
    assistant = open_assistant(probe, HashingEmbedder())
    try:
        answer = ask(assistant, "printer spooler restart", Viewer(), AS_OF, record=False)
        assert answer.answer
        listed = catalog.chunk_ids(assistant.index.conn)
        assert listed <= vectors.all_ids(vectors.open_collection(paths.chroma))
    finally:
        assistant.index.conn.close()
        assistant.state.close()


def assert_healthy(data: Path, kb: Path) -> None:
    paths = live_index(data, create=False)
    conn = catalog.open_readonly(paths.catalog)
    try:
        ids = [d[0] for d in catalog.lexical_documents(conn)]
        fresh = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
        assert catalog.get_kv(conn, "fingerprint") == fresh
        assert set(catalog.article_paths(conn).values()) == {p.name for p in kb.glob("*.md")}
    finally:
        conn.close()
    bm25 = json.loads((paths.bm25 / "ids.json").read_text())
    assert (bm25["fingerprint"], bm25["ids"]) == (fresh, ids)
    assert matrix.stored_fingerprint(paths.matrix) == fresh
    assert vectors.all_ids(vectors.open_collection(paths.chroma)) == set(ids)


def test_ingest_killed_anywhere_leaves_an_index_the_next_run_repairs(tmp_path: Path) -> None:
    seed, points = KILL_SEED, KILL_POINTS
    rng = random.Random(seed)
    kb, data = make_kb(tmp_path / "kb", rng), tmp_path / "data"
    status, full = kb_ingest(kb, data)
    assert status == 0
    plan = [(None, rng.uniform(0.2, full * 1.1)) for _ in range(points)]
    plan += [(phase, None) for phase in PHASES]
    killed = []
    for step, (phase, delay) in enumerate(plan):
        where = f"seed {seed}, step {step}: {phase or f'after {delay:.2f} s'}"
        mutate(kb, rng, step)
        status, _ = kb_ingest(kb, data, kill_after=delay, kill_at=phase)
        if phase:
            assert status == -signal.SIGKILL, f"{where}: the hook did not kill"
        killed.append(status == -signal.SIGKILL)
        try:
            assert_opens_and_answers(data, tmp_path / f"probe{step}")
            assert kb_ingest(kb, data)[0] == 0
            assert_healthy(data, kb)
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}") from exc
    print(f"kill loop: seed {seed}, {sum(killed)} of {len(plan)} runs killed, "
          f"full ingest {full:.1f} s")
