"""Ingestion with the real model and a real Chroma: incremental counts, a broken file, a run
killed mid-way, and a slice of the real ms-support corpus.

Inputs are kept small because the model embeds only ~30 chunks/s on these machines.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.store import catalog
from core.types import LoadFailure
from ingest.run import IngestOptions, IngestReport, ingest_folder
from ingest.tokens import count_tokens
from kb_cli.main import main
from tests.env import child_env
from tests.ingest.helpers import TEST_KB_IDS, Index

pytestmark = pytest.mark.integration

VPN = "network/vpn-reset.md"


def copy_articles(corpus: Path, rows: list[dict[str, Any]], dst: Path) -> Path:
    """Copy the manifest rows' articles into dst, keeping their relative paths."""
    for row in rows:
        target = dst / row["article_path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus / row["article_path"], target)
    return dst


def short_articles(manifest: list[dict[str, Any]], n: int = 200) -> list[dict[str, Any]]:
    """The n shortest articles (ties broken by path): deterministic and quick to embed."""
    return sorted(manifest, key=lambda r: (r["n_words"], r["article_path"]))[:n]


def mid_size_articles(manifest: list[dict[str, Any]], n: int = 60) -> list[dict[str, Any]]:
    """n articles of 350-450 words, evenly spread: ~350 chunks, so the first batch of 256 is
    written well before the end, and little is left to embed after the kill."""
    rows = sorted((r for r in manifest if 350 <= r["n_words"] < 450),
                  key=lambda r: (r["n_words"], r["article_path"]))
    return rows[:: len(rows) // n][:n]


def _as_items(value: Any) -> list[Any]:
    """``ms.custom`` is a YAML list or one comma-separated string."""
    if isinstance(value, list):
        return value
    return [v.strip() for v in str(value or "").split(",")]


def cli_ingest(capsys: pytest.CaptureFixture[str], root: Path, data: Path) -> dict[str, Any]:
    code = main(["ingest", str(root), "--data-dir", str(data), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def counts(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("articles", "chunks", "added", "updated", "unchanged", "removed", "embedded_chunks")
    return {k: report[k] for k in keys}


def assert_index_matches_catalog(index: Index) -> None:
    ids = index.catalog_chunk_ids()
    assert index.chroma_ids() == ids
    assert index.collection.count() == len(ids)


@pytest.fixture
def real_model_cli(monkeypatch: pytest.MonkeyPatch, real_embedder: Any) -> Any:
    """``kb ingest`` in-process with the session's already-loaded model."""
    monkeypatch.setattr("kb_cli.ingest_cmd.make_embedder", lambda settings: real_embedder)
    return real_embedder


def test_incremental_runs_with_the_real_model(capsys: pytest.CaptureFixture[str],
                                              kb_copy: Path, tmp_path: Path,
                                              real_model_cli: Any) -> None:
    data = tmp_path / "data"

    first = cli_ingest(capsys, kb_copy, data)
    assert counts(first) == {"articles": 6, "chunks": 12, "added": 6, "updated": 0,
                             "unchanged": 0, "removed": 0, "embedded_chunks": 12}
    assert first["failed"] == []

    again = cli_ingest(capsys, kb_copy, data)
    assert counts(again) == {"articles": 6, "chunks": 12, "added": 0, "updated": 0,
                             "unchanged": 6, "removed": 0, "embedded_chunks": 0}

    vpn = kb_copy / VPN
    vpn.write_text(vpn.read_text(encoding="utf-8").replace("Network-L2", "Network-L3"),
                   encoding="utf-8")
    (kb_copy / "printing" / "toner-low.txt").unlink()
    changed = cli_ingest(capsys, kb_copy, data)
    assert counts(changed) == {"articles": 5, "chunks": 11, "added": 0, "updated": 1,
                               "unchanged": 4, "removed": 1, "embedded_chunks": 1}

    last = cli_ingest(capsys, kb_copy, data)
    assert counts(last) == {"articles": 5, "chunks": 11, "added": 0, "updated": 0,
                            "unchanged": 5, "removed": 0, "embedded_chunks": 0}

    index = Index.open(data)
    assert index.article_ids() == sorted(set(TEST_KB_IDS) - {"printing/toner-low.txt"})
    assert_index_matches_catalog(index)
    got = index.collection.get(include=["embeddings"])
    assert {len(e) for e in got["embeddings"]} == {384}
    assert all(math.isclose(sum(x * x for x in e), 1.0, abs_tol=1e-3)
               for e in got["embeddings"])
    [query] = real_model_cli.embed(["Where do I escalate a VPN client that keeps hanging?"])
    hits = index.collection.query(query_embeddings=[query], n_results=1,
                                  include=["metadatas", "documents"])
    assert hits["metadatas"][0][0]["article_id"] == VPN
    assert "Network-L3" in hits["documents"][0][0]


def test_a_broken_file_does_not_remove_its_good_version(kb_copy: Path, tmp_path: Path,
                                                        real_embedder: Any) -> None:
    index = Index.open(tmp_path / "data")

    def run() -> IngestReport:
        return ingest_folder(kb_copy, index.conn, index.collection, real_embedder,
                             index.paths.bm25, IngestOptions())

    run()
    good_chunks = index.chunk_texts(VPN)
    good_vectors = index.collection.get(ids=sorted(good_chunks), include=["embeddings"])
    (kb_copy / VPN).write_bytes("---\ntitle: R\xe9initialiser\n---\n".encode("latin-1"))

    report = run()

    assert report.failed == [LoadFailure(
        VPN, "is not valid UTF-8 (byte 0xe9 at offset 12); re-save it as UTF-8")]
    assert (report.removed, report.updated, report.unchanged, report.embedded_chunks) == (
        0, 0, 5, 0)
    assert catalog.get_article(index.conn, VPN).title == "Reset the VPN client"
    assert index.chunk_texts(VPN) == good_chunks
    kept = index.collection.get(ids=sorted(good_chunks), include=["embeddings"])
    assert [list(e) for e in kept["embeddings"]] == [list(e) for e in good_vectors["embeddings"]]
    assert_index_matches_catalog(index)


# ---------------------------------------------------------------------------- kill mid-way


def stored_articles(catalog_path: Path) -> int:
    """Articles committed so far, read the way any other reader would (read-only)."""
    if not catalog_path.exists():
        return 0
    try:
        conn = catalog.open_readonly(catalog_path)
        try:
            return catalog.counts(conn)["articles"]
        finally:
            conn.close()
    except sqlite3.OperationalError:  # not created yet, or mid-migration
        return 0


def kb_command() -> list[str]:
    script = Path(sys.executable).with_name("kb")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kb_cli.main"]


@pytest.mark.corpus
def test_a_killed_run_leaves_a_consistent_index(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path, corpus_dir: Path,
                                                corpus_manifest: list[dict[str, Any]],
                                                real_model_cli: Any) -> None:
    rows = mid_size_articles(corpus_manifest)
    source = copy_articles(corpus_dir, rows, tmp_path / "kb")
    data = tmp_path / "data"
    catalog_path = data / "indexes" / "index-1" / "catalog.sqlite"
    env = child_env()
    proc = subprocess.Popen([*kb_command(), "ingest", str(source), "--data-dir", str(data),
                             "--json"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while stored_articles(catalog_path) == 0:
            assert proc.poll() is None, f"kb ingest ended before the kill: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no batch was written within 240 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    # what the killed run left: whole articles only, all of them searchable
    index = Index.open(data)
    kept = index.article_ids()
    kept_chunks = index.catalog_chunk_ids()
    assert 0 < len(kept) < len(rows)
    in_order = sorted((r["article_path"] for r in rows), key=Path)  # the order of discover()
    assert set(kept) == set(in_order[: len(kept)])  # whole batches, in order
    assert index.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert index.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert catalog.articles_without_chunks(index.conn) == []
    assert kept_chunks <= index.chroma_ids()

    # the next run finishes the job: no stray vectors, no duplicates, nothing embedded twice
    report = cli_ingest(capsys, source, data)

    assert report["failed"] == []
    assert (report["added"], report["unchanged"], report["updated"], report["removed"]) == (
        len(rows) - len(kept), len(kept), 0, 0)
    assert report["articles"] == len(rows)
    assert report["embedded_chunks"] == report["chunks"] - len(kept_chunks)
    assert index.article_ids() == sorted(r["article_path"] for r in rows)
    assert_index_matches_catalog(index)
    assert kept_chunks <= index.catalog_chunk_ids()


# ---------------------------------------------------------------------------- real corpus


@pytest.mark.corpus
def test_a_slice_of_the_real_corpus(tmp_path: Path, corpus_dir: Path,
                                    corpus_manifest: list[dict[str, Any]],
                                    real_embedder: Any) -> None:
    rows = short_articles(corpus_manifest)
    source = copy_articles(corpus_dir, rows, tmp_path / "kb")
    index = Index.open(tmp_path / "data")

    def run() -> IngestReport:
        return ingest_folder(source, index.conn, index.collection, real_embedder,
                             index.paths.bm25, IngestOptions())

    report = run()

    assert report.failed == []
    assert (report.articles, report.added, report.embedded_chunks) == (200, 200, report.chunks)
    assert_index_matches_catalog(index)
    articles = {a.id: a for a in catalog.iter_articles(index.conn)}
    assert sorted(articles) == sorted(r["article_path"] for r in rows)
    for row in rows:
        article = articles[row["article_path"]]
        assert article.title == row["title"]
        assert (article.last_reviewed.isoformat() if article.last_reviewed else None
                ) == row["ms_date"]
        assert article.groups == ()  # "audience: ITPro" restricts no one
        applies = article.raw_meta.get("appliesto")
        if isinstance(applies, list):
            assert article.products == tuple(str(p).strip() for p in applies if p)
        sap = [str(c)[4:].strip() for c in _as_items(article.raw_meta.get("ms.custom"))
               if str(c).lower().startswith("sap:")]
        if sap:
            assert article.category == sap[0]
    found = list(articles.values())
    assert sum("audience" in a.raw_meta for a in found) == 190
    assert sum(isinstance(a.raw_meta.get("appliesto"), list) for a in found) == 127
    assert sum(bool(a.products) and "appliesto" not in a.raw_meta for a in found) == 23
    assert sum(bool(a.category) for a in found) == 139
    documents = index.collection.get(include=["documents"])["documents"]
    assert max(count_tokens(d) for d in documents) <= 180

    [question] = real_embedder.embed([rows[0]["title"]])
    top = index.collection.query(query_embeddings=[question], n_results=5,
                                 include=["metadatas"])
    assert rows[0]["article_path"] in {m["article_id"] for m in top["metadatas"][0]}

    again = run()
    assert (again.unchanged, again.embedded_chunks, again.added, again.removed) == (200, 0, 0, 0)
