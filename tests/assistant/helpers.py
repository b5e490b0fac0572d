"""Building real indexes for the assistant, eval and CLI tests.

An index is built the way ``kb ingest`` builds it (``ingest_folder`` into the live index of a
data dir: SQLite catalog, Chroma, BM25) and then opened the way ``kb ask`` opens it.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from assistant.service import Assistant, open_assistant
from core.paths import IndexPaths, live_index
from core.store import catalog
from ingest.run import IngestOptions, ingest_folder
from ingest.vectors import open_collection

REPO = Path(__file__).resolve().parents[2]
KB_SAMPLES = REPO / "kb_samples"
SAMPLES_DATASET = REPO / "evals" / "datasets" / "kb_samples.jsonl"
#: tests/data/assistant/kb: exact-token, stale-twin and long-article cases (see its README)
TEST_KB = REPO / "tests" / "data" / "assistant" / "kb"
#: kb_samples/README.md: "Reference date for freshness checks"
REFERENCE_DATE = date(2026, 11, 25)

#: kb_samples articles restricted to a group (kb_samples/README.md), with text only they contain
RESTRICTED = {
    "accounts/privileged-access-request.md": "security-team",
    "network/firewall-change-request.md": "security-team",
    "security/phishing-incident-response.md": "security-team",
    "onboarding/leaver-process-confidential.md": "hr",
}
EXPIRED = "network/vpn-certificate-change-june-2026.md"  # valid_until 2026-06-30
RETIRED = "network/vpn-anyconnect-setup.md"
DRAFT = "endpoint/windows-11-upgrade-faq.md"


def front_matter(**meta: Any) -> str:
    lines = []
    for key, value in meta.items():
        shown = f"[{', '.join(value)}]" if isinstance(value, list | tuple) else value
        lines.append(f"{key}: {shown}")
    return "---\n" + "\n".join(lines) + "\n---\n\n"


def write_articles(root: Path, articles: dict[str, str]) -> Path:
    """Write ``{relative path: file text}`` under root; returns root."""
    for rel, text in articles.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def ingest_into(paths: IndexPaths, source: Path, embedder: Any) -> None:
    """Ingest ``source`` into the index at ``paths`` (live or staging) as ``kb ingest`` does."""
    conn = catalog.connect(paths.catalog)
    try:
        report = ingest_folder(source, conn, open_collection(paths.chroma), embedder,
                               paths.bm25, IngestOptions())
    finally:
        conn.close()
    assert not report.failed, report.failed


def build_index(data_dir: Path, source: Path, embedder: Any) -> Path:
    """Ingest ``source`` into the live index of ``data_dir``; returns data_dir."""
    ingest_into(live_index(data_dir), source, embedder)
    return data_dir


def with_state(assistant: Assistant, state_path: Path) -> Assistant:
    """The same index and model with a state DB of its own (gaps are recorded there)."""
    from dataclasses import replace

    from core.store import state as state_store

    return replace(assistant, state=state_store.connect(state_path))


def gap_questions(state: sqlite3.Connection) -> list[str]:
    return [r[0] for r in state.execute("SELECT question FROM gaps ORDER BY id")]


_BUILT: dict[str, Path] = {}
_LOCK = threading.Lock()


def shared_index(name: str, source: Path, factory: pytest.TempPathFactory,
                 embedder: Any) -> Path:
    """Build ``source`` with the real model once per session, whichever conftest asks first.

    Session fixtures of two conftests are two fixtures; this keeps them one index.
    """
    with _LOCK:
        if name not in _BUILT:
            _BUILT[name] = build_index(factory.mktemp(name), source, embedder)
        return _BUILT[name]


def open_shared(data_dir: Path, embedder: Any) -> Assistant:
    return open_assistant(data_dir, embedder, stale_days=365)


#: a tiny KB for unit tests with the deterministic HashingEmbedder
PRINTER_ARTICLES = {
    "printing/paper-jam.md": front_matter(
        title="Printer reports a paper jam", owner="ops@northwind.example",
        category="Printing", status="published", last_reviewed="2026-10-01") + """\
# Printer reports a paper jam

## Symptoms

The printer shows "Paper jam in tray 2" and stops printing. Jobs wait in the queue.

## Cause

Damp or creased paper in tray 2.

## Resolution

1. Open tray 2 and remove the creased sheets.
2. Open the rear door and pull out any torn paper.
3. Close the door and press OK on the printer panel.
""",
    "printing/toner.md": front_matter(
        title="Printer toner is low", owner="ops@northwind.example", category="Printing",
        status="published", last_reviewed="2026-10-01") + """\
# Printer toner is low

## Steps

1. Order a toner cartridge from the portal.
2. Replace the cartridge when the printer says so.
""",
}


def build_hashing_kb(root: Path, articles: dict[str, str] | None = None) -> Path:
    """Write the articles under root/kb and ingest them with the HashingEmbedder into root/data."""
    from ingest.embed import HashingEmbedder

    source = write_articles(root / "kb", articles or PRINTER_ARTICLES)
    return build_index(root / "data", source, HashingEmbedder())
