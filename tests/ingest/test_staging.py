"""Staging indexes: copy the live one, promote only after a passing eval, roll back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.service import open_index
from core.errors import KbError
from core.paths import IndexPaths, live_index, read_pointer
from core.store import catalog
from ingest import lexical
from ingest.embed import HashingEmbedder
from ingest.staging import create_stage, promote, record_stage_eval, rollback, stage_index
from ingest.vectors import all_ids, open_collection
from tests.assistant.helpers import (
    PRINTER_ARTICLES,
    build_hashing_kb,
    front_matter,
    ingest_into,
)

SCANNER = {"printing/scanner.md": front_matter(
    title="Scanner sends nothing to email", owner="ops@northwind.example",
    status="published", last_reviewed="2026-10-01") + """\
# Scanner sends nothing to email

## Resolution

1. Check the address book entry on the scanner panel.
2. Ask the service desk to allow the scanner in the mail relay.
"""}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir whose live index (index-1) holds the two printer articles."""
    return build_hashing_kb(tmp_path)


def articles(paths: IndexPaths) -> list[str]:
    conn = catalog.connect(paths.catalog)
    try:
        return catalog.article_ids(conn)
    finally:
        conn.close()


def log(data_dir: Path) -> list[dict]:
    path = data_dir / "promotions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def staged_with_scanner(data_dir: Path) -> IndexPaths:
    stage = create_stage(data_dir)
    source = data_dir.parent / "kb"
    (source / "printing" / "scanner.md").write_text(SCANNER["printing/scanner.md"])
    ingest_into(stage, source, HashingEmbedder())
    return stage


def test_create_stage_copies_the_live_index(data_dir: Path) -> None:
    live = live_index(data_dir, create=False)
    stage = create_stage(data_dir)

    assert (stage.root.name, read_pointer(data_dir, "STAGE")) == ("index-2", "index-2")
    assert read_pointer(data_dir, "LIVE") == "index-1"
    assert articles(stage) == articles(live) == sorted(PRINTER_ARTICLES)
    live_chunks = catalog.chunk_ids(catalog.connect(live.catalog))
    assert catalog.chunk_ids(catalog.connect(stage.catalog)) == live_chunks
    assert all_ids(open_collection(stage.chroma)) == live_chunks
    assert set(lexical.load(stage.bm25)[1]) == live_chunks
    index = open_index(stage)  # a usable index: catalog, vectors and BM25 agree
    assert sorted(index.article_row) == sorted(PRINTER_ARTICLES)
    assert index.title_vectors is not None  # the title vectors came along


def test_changes_to_the_stage_leave_the_live_index_alone(data_dir: Path) -> None:
    stage = staged_with_scanner(data_dir)
    assert articles(stage) == sorted([*PRINTER_ARTICLES, *SCANNER])
    assert articles(live_index(data_dir, create=False)) == sorted(PRINTER_ARTICLES)
    assert stage_index(data_dir) == stage


def test_a_new_stage_replaces_the_old_one_and_its_verdict(data_dir: Path) -> None:
    staged_with_scanner(data_dir)
    record_stage_eval(data_dir, {"passed": True, "regressions": []})
    second = create_stage(data_dir)
    assert read_pointer(data_dir, "STAGE") == second.root.name
    assert articles(second) == sorted(PRINTER_ARTICLES)  # a fresh copy of live
    assert sorted(p.name for p in (data_dir / "indexes").iterdir()) == ["index-1", "index-2"]
    assert not (data_dir / "STAGE_EVAL.json").exists()
    with pytest.raises(KbError, match="has not been evaluated"):
        promote(data_dir)


def test_promote_refuses_an_index_that_was_not_evaluated(data_dir: Path) -> None:
    staged_with_scanner(data_dir)
    with pytest.raises(KbError, match="staging index index-2 has not been evaluated"):
        promote(data_dir)
    assert read_pointer(data_dir, "LIVE") == "index-1"
    assert log(data_dir) == []


def test_promote_refuses_an_index_that_failed_its_eval(data_dir: Path) -> None:
    staged_with_scanner(data_dir)
    record_stage_eval(data_dir, {"passed": False,
                                 "regressions": ["retrieval.recall@1 0.900 -> 0.700"]})
    with pytest.raises(KbError, match=r"failed its eval gate: retrieval.recall@1 0.900 -> 0.700"):
        promote(data_dir)
    assert read_pointer(data_dir, "LIVE") == "index-1"


def test_promote_refuses_a_verdict_about_another_index(data_dir: Path) -> None:
    staged_with_scanner(data_dir)
    (data_dir / "STAGE_EVAL.json").write_text(json.dumps({"passed": True, "index": "index-9"}))
    with pytest.raises(KbError, match="has not been evaluated"):
        promote(data_dir)


def test_promote_after_a_passing_eval_switches_live_and_logs_it(data_dir: Path) -> None:
    staged_with_scanner(data_dir)
    record_stage_eval(data_dir, {"passed": True, "regressions": []})
    assert promote(data_dir, by="dana") == "index-2"

    assert [read_pointer(data_dir, p) for p in ("LIVE", "PREVIOUS", "STAGE")] == \
        ["index-2", "index-1", None]
    assert articles(live_index(data_dir, create=False)) == sorted([*PRINTER_ARTICLES, *SCANNER])
    (entry,) = log(data_dir)
    assert {k: v for k, v in entry.items() if k != "at"} == {
        "action": "promote", "from": "index-1", "to": "index-2", "forced": False,
        "eval_passed": True, "by": "dana"}


def test_force_promotes_without_an_eval_and_is_logged_as_forced(data_dir: Path) -> None:
    staged_with_scanner(data_dir)
    assert promote(data_dir, force=True, by="lee") == "index-2"
    assert read_pointer(data_dir, "LIVE") == "index-2"
    (entry,) = log(data_dir)
    assert {k: v for k, v in entry.items() if k != "at"} == {
        "action": "promote", "from": "index-1", "to": "index-2", "forced": True,
        "eval_passed": False, "by": "lee"}


def test_rollback_returns_to_the_previous_index(data_dir: Path) -> None:
    staged_with_scanner(data_dir)
    promote(data_dir, force=True)
    assert rollback(data_dir, by="dana") == "index-1"

    assert [read_pointer(data_dir, p) for p in ("LIVE", "PREVIOUS")] == ["index-1", "index-2"]
    assert articles(live_index(data_dir, create=False)) == sorted(PRINTER_ARTICLES)
    assert sorted(open_index(live_index(data_dir, create=False)).article_row) == \
        sorted(PRINTER_ARTICLES)
    assert [(e["action"], e["from"], e["to"]) for e in log(data_dir)] == [
        ("promote", "index-1", "index-2"), ("rollback", "index-2", "index-1")]
    assert log(data_dir)[1]["by"] == "dana"
    assert rollback(data_dir) == "index-2"  # and forward again


def test_nothing_to_promote_or_roll_back_is_an_error(data_dir: Path) -> None:
    with pytest.raises(KbError, match="no staging index to promote"):
        promote(data_dir, force=True)
    with pytest.raises(KbError, match="no previous index to roll back to"):
        rollback(data_dir)
    with pytest.raises(KbError, match="there is no staging index"):
        stage_index(data_dir)
