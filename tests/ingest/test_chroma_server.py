"""``KB_CHROMA_URL``: every command against a real ``chroma run`` server instead of the
embedded store (ingest, ask, an incremental re-ingest, staging and promotion, backup and
restore), each index dir in a collection of its own."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.paths import live_index, read_pointer
from core.store import catalog
from ingest import vectors
from kb_cli.main import main
from tests.chroma import ChromaDidNotStart, chroma_server

pytestmark = pytest.mark.slow
QUESTION = "How do I open a shared mailbox in Outlook on the web?"
NEW_ARTICLE = """---
id: KB0099001
title: Map a network drive
owner: ops@contoso.example
last_reviewed: 2026-10-01
---

# Map a network drive

## Steps

1. In File Explorer, select **This PC** and then **Map network drive**.
2. Type the share path, for example \\\\files\\team, and select **Finish**.
"""


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``chroma run`` on a free loopback port (tests/chroma.py) for this module."""
    try:
        with chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
            yield url
    except ChromaDidNotStart as exc:
        pytest.fail(str(exc))


@pytest.fixture
def on_server(chroma_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Commands in this test use the server (and the deterministic embedder)."""
    monkeypatch.setenv("KB_CHROMA_URL", chroma_url)
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    return chroma_url


def kb_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return dict(json.loads(out))


def server_ids(url: str, name: str) -> set[str]:
    return vectors.all_ids(vectors.http_client(url).get_collection(name))


def catalog_ids(index_root: Path) -> set[str]:
    conn = catalog.connect(index_root / "catalog.sqlite")
    try:
        return catalog.chunk_ids(conn)
    finally:
        conn.close()


def collection_of(index_root: Path) -> str:
    record = vectors.read_record(index_root / "chroma")
    assert record is not None
    assert record["index_dir"] == str(index_root.resolve())
    return str(record["collection"])


def no_embedded_store(data_dir: Path) -> None:
    assert not list(data_dir.rglob("chroma.sqlite3"))


def test_ingest_ask_and_reingest(on_server: str, capsys: pytest.CaptureFixture[str],
                                 kb_copy: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    data = str(tmp_path / "d")
    first = kb_json(capsys, "ingest", str(kb_copy), "--data-dir", data)
    assert (first["articles"], first["chunks"], first["embedded_chunks"]) == (6, 12, 12)
    live = live_index(tmp_path / "d").root
    name = collection_of(live)
    assert server_ids(on_server, name) == catalog_ids(live) and len(catalog_ids(live)) == 12
    no_embedded_store(tmp_path / "d")

    answer = kb_json(capsys, "ask", QUESTION, "--data-dir", data, "--as-of", "2026-11-25")
    assert answer["citations"][0]["article_id"] == "KB0012345"

    mailbox = kb_copy / "email" / "shared-mailbox.md"
    mailbox.write_text(mailbox.read_text() + "3. Select **Open**.\n")
    again = kb_json(capsys, "ingest", str(kb_copy), "--data-dir", data)
    assert (again["updated"], again["unchanged"], again["embedded_chunks"]) == (1, 5, 1)
    assert server_ids(on_server, name) == catalog_ids(live)

    # an index made on a server stays on it: with no URL set, a query that must rebuild
    # vectors.npz reads the recorded server
    monkeypatch.delenv("KB_CHROMA_URL")
    (live / "vectors.npz").unlink()
    rebuilt = kb_json(capsys, "ask", QUESTION, "--data-dir", data, "--as-of", "2026-11-25")
    assert rebuilt["citations"][0]["article_id"] == "KB0012345"
    assert (live / "vectors.npz").exists()
    no_embedded_store(tmp_path / "d")


def test_two_data_dirs_do_not_share_a_collection(on_server: str,
                                                 capsys: pytest.CaptureFixture[str],
                                                 kb_copy: Path, tmp_path: Path) -> None:
    kb_json(capsys, "ingest", str(kb_copy), "--data-dir", str(tmp_path / "a"))
    (kb_copy / "network" / "vpn-reset.md").unlink()
    kb_json(capsys, "ingest", str(kb_copy), "--data-dir", str(tmp_path / "b"))
    a, b = live_index(tmp_path / "a").root, live_index(tmp_path / "b").root

    assert collection_of(a) != collection_of(b)
    assert server_ids(on_server, collection_of(a)) == catalog_ids(a)
    assert server_ids(on_server, collection_of(b)) == catalog_ids(b)
    assert catalog_ids(b) < catalog_ids(a)


def test_stage_and_promote(on_server: str, capsys: pytest.CaptureFixture[str], kb_copy: Path,
                           tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    kb_json(capsys, "ingest", str(kb_copy), "--data-dir", str(data_dir))
    live = live_index(data_dir).root
    live_ids = catalog_ids(live)
    (kb_copy / "network" / "map-drive.md").write_text(NEW_ARTICLE)

    staged = kb_json(capsys, "ingest", str(kb_copy), "--data-dir", str(data_dir), "--stage")
    stage = data_dir / "indexes" / str(read_pointer(data_dir, "STAGE"))
    # the stage's collection was filled from the live one: only the new article is embedded
    assert (staged["added"], staged["unchanged"]) == (1, 6)
    assert staged["embedded_chunks"] == len(catalog_ids(stage) - live_ids) > 0
    assert collection_of(stage) != collection_of(live)
    assert server_ids(on_server, collection_of(stage)) == catalog_ids(stage)
    assert server_ids(on_server, collection_of(live)) == live_ids  # live untouched

    assert main(["promote", "--data-dir", str(data_dir), "--force"]) == 0
    capsys.readouterr()
    answer = kb_json(capsys, "ask", "How do I map a network drive in File Explorer?",
                     "--data-dir", str(data_dir), "--as-of", "2026-11-25")
    assert answer["citations"][0]["article_id"] == "KB0099001"
    no_embedded_store(data_dir)


def test_backup_needs_no_server_and_restore_refills(on_server: str,
                                                    capsys: pytest.CaptureFixture[str],
                                                    kb_copy: Path, tmp_path: Path) -> None:
    data_dir, dest, restored = tmp_path / "d", tmp_path / "backup", tmp_path / "r"
    kb_json(capsys, "ingest", str(kb_copy), "--data-dir", str(data_dir))
    live = live_index(data_dir).root
    assert main(["backup", str(dest), "--data-dir", str(data_dir)]) == 0
    assert (live_index(dest).root / "vectors.npz").exists()
    # the server loses the original collection: the backup alone must be enough
    vectors.http_client(on_server).delete_collection(collection_of(live))

    assert main(["restore", str(dest), "--data-dir", str(restored)]) == 0
    capsys.readouterr()
    again = kb_json(capsys, "ingest", str(kb_copy), "--data-dir", str(restored))
    assert (again["unchanged"], again["embedded_chunks"]) == (6, 0)
    index = live_index(restored).root
    assert server_ids(on_server, collection_of(index)) == catalog_ids(index)
    answer = kb_json(capsys, "ask", QUESTION, "--data-dir", str(restored),
                     "--as-of", "2026-11-25")
    assert answer["citations"][0]["article_id"] == "KB0012345"
    no_embedded_store(restored)


def test_an_embedded_index_moves_to_the_server(chroma_url: str,
                                               capsys: pytest.CaptureFixture[str],
                                               kb_copy: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Setting KB_CHROMA_URL on a data dir made without it: the server's collection gets the
    embedded store's vectors (here vectors.npz is gone, so they come from chroma/)."""
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    monkeypatch.delenv("KB_CHROMA_URL", raising=False)  # the session's (make test-chroma)
    data = str(tmp_path / "d")
    kb_json(capsys, "ingest", str(kb_copy), "--data-dir", data)
    live = live_index(tmp_path / "d").root
    assert vectors.read_record(live / "chroma") is None
    (live / "vectors.npz").unlink()

    monkeypatch.setenv("KB_CHROMA_URL", chroma_url)
    mailbox = kb_copy / "email" / "shared-mailbox.md"
    mailbox.write_text(mailbox.read_text() + "3. Select **Open**.\n")
    again = kb_json(capsys, "ingest", str(kb_copy), "--data-dir", data)

    assert (again["updated"], again["embedded_chunks"]) == (1, 1)
    assert server_ids(chroma_url, collection_of(live)) == catalog_ids(live)


def test_session_server_mode_puts_every_index_on_the_server(
        vector_engine: str, capsys: pytest.CaptureFixture[str], kb_copy: Path,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``make test-chroma`` (``KB_TEST_CHROMA=server``): an index built by any test lands in
    the session's server, not in an embedded store in its data dir."""
    if vector_engine != "server":
        pytest.skip("only with KB_TEST_CHROMA=server (make test-chroma)")
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    kb_json(capsys, "ingest", str(kb_copy), "--data-dir", str(tmp_path / "d"))
    live = live_index(tmp_path / "d").root
    assert server_ids(os.environ["KB_CHROMA_URL"], collection_of(live)) == catalog_ids(live)
    no_embedded_store(tmp_path / "d")
