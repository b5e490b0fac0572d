"""Corrupt or hostile input: broken data files give one clear line (exit 2), a loader crash
on one file or a link out of the KB folder never reaches the index, data files are private.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.errors import KbError
from core.paths import live_index, state_db
from core.store import catalog
from ingest import matrix
from ingest.embed import HashingEmbedder
from ingest.run import IngestOptions, ingest_folder
from kb_cli.main import main
from tests.ingest.helpers import TEST_KB_IDS, Index

RECOVERY = "restore from backup (kb restore) or rebuild with kb ingest into a new --data-dir"


def ingest(root: Path, index: Index) -> Any:
    return ingest_folder(root, index.conn, index.collection, HashingEmbedder(),
                         index.paths.bm25, IngestOptions())


# ----------------------------------------------------------- one file never aborts the run


def test_any_exception_loading_one_file_is_that_files_failure(
        kb_copy: Path, index: Index, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from ingest import run

    real = run.load_article

    def flaky(path: Path, *args: Any) -> Any:
        if path.name == "vpn-reset.md":
            raise RuntimeError("parser bug on line 7")
        return real(path, *args)

    monkeypatch.setattr(run, "load_article", flaky)
    with caplog.at_level(logging.DEBUG, logger="ingest.run"):
        report = ingest(kb_copy, index)
    assert [(f.path, f.error) for f in report.failed] == [
        ("network/vpn-reset.md", "could not be read: RuntimeError: parser bug on line 7")]
    assert report.articles == len(TEST_KB_IDS) - 1
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)


# ------------------------------------------------------------- links out of the KB folder


def test_links_out_of_the_kb_folder_are_reported_and_never_indexed(
        kb_copy: Path, index: Index, tmp_path: Path) -> None:
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "passwd.md").write_text("# root\n\nroot:x:0:0:root:/root:/bin/bash\n")
    (kb_copy / "passwd.md").symlink_to(secret / "passwd.md")
    (kb_copy / "etc").symlink_to(secret, target_is_directory=True)
    (kb_copy / "network" / "vpn-alias.md").symlink_to(kb_copy / "network" / "vpn-reset.md")
    (kb_copy / "loop").symlink_to(kb_copy, target_is_directory=True)

    report = ingest(kb_copy, index)

    assert sorted((f.path, f.error) for f in report.failed) == [
        ("etc", "is a link outside the KB folder"),
        ("passwd.md", "is a link outside the KB folder")]
    paths = set(catalog.article_paths(index.conn).values())
    assert "network/vpn-alias.md" in paths  # a link inside the folder is an article
    assert not any(p.startswith(("etc/", "loop/")) or p == "passwd.md" for p in paths)
    assert not any("root:x" in text for _, _, _, text in catalog.lexical_documents(index.conn))


def test_a_sidecar_linking_out_of_the_kb_folder_is_refused(
        kb_copy: Path, index: Index, tmp_path: Path) -> None:
    (tmp_path / "meta.yaml").write_text("owner: mallory@example.com\n")
    (kb_copy / "network" / "vpn-reset.meta.yaml").symlink_to(tmp_path / "meta.yaml")
    report = ingest(kb_copy, index)
    assert [(f.path, f.error) for f in report.failed] == [
        ("network/vpn-reset.md", "its sidecar is a link outside the KB folder")]


# ---------------------------------------------------------------- corrupt files: one line


@pytest.fixture
def built(tmp_path: Path, kb_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    data = tmp_path / "data"
    assert main(["ingest", str(kb_copy), "--data-dir", str(data), "--json"]) == 0
    return data


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    status = main(list(argv))
    return status, capsys.readouterr().err.splitlines()


def garble(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


@pytest.mark.parametrize("damage", ["garbage", "empty"])
def test_a_corrupt_catalog_is_one_line_naming_it(
        built: Path, capsys: pytest.CaptureFixture[str], damage: str) -> None:
    path = live_index(built).catalog
    garble(path) if damage == "garbage" else path.write_bytes(b"")
    for command in ("status", "ask"):
        argv = [command, "--data-dir", str(built)] + (["vpn reset"] if command == "ask" else [])
        status, err = run_cli(capsys, *argv)
        assert status == 2
        assert len(err) == 1 and str(path) in err[0] and RECOVERY in err[0], err
    assert path.stat().st_size == (0 if damage == "empty" else 8192)  # nothing overwritten


def test_a_corrupt_state_db_is_one_line_naming_it(
        built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    garble(state_db(built))
    status, err = run_cli(capsys, "ask", "vpn reset", "--data-dir", str(built))
    assert status == 2
    assert err == [f"kb ask: {state_db(built)} is corrupt (file is not a database): {RECOVERY}"]


def test_a_corrupt_vector_matrix_is_rebuilt_from_chroma(
        built: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    path = live_index(built).matrix
    path.write_bytes(b"PK\x03\x04 not really a zip")
    status, _ = run_cli(capsys, "ask", "vpn reset", "--data-dir", str(built))
    assert status == 0
    assert f"{path} is unreadable (BadZipFile): rebuilding it from Chroma" in caplog.text
    conn = catalog.connect(live_index(built).catalog)
    assert matrix.stored_fingerprint(path) == catalog.get_kv(conn, "fingerprint")
    conn.close()


def test_a_corrupt_chroma_store_is_one_line_when_it_is_needed(
        built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = live_index(built)
    garble(paths.chroma / "chroma.sqlite3")
    paths.matrix.unlink()  # so the query must read the vectors from Chroma
    status, err = run_cli(capsys, "ask", "vpn reset", "--data-dir", str(built))
    assert status == 2
    assert len(err) == 1 and str(paths.chroma) in err[0] and RECOVERY in err[0], err


def test_a_corrupt_catalog_through_the_real_command(built: Path) -> None:
    garble(live_index(built).catalog)
    done = subprocess.run([sys.executable, "-m", "kb_cli.main", "status", "--data-dir",
                           str(built)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "catalog.sqlite is corrupt" in done.stderr


def test_open_db_never_mistakes_an_empty_file_for_an_empty_index(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    path.touch()
    with pytest.raises(KbError, match="is corrupt \\(the file is empty\\)"):
        catalog.connect(path)


# --------------------------------------------------------------------------- permissions


def test_data_files_are_private(built: Path) -> None:
    paths = live_index(built)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(built) == mode(built / "indexes") == mode(paths.root) == 0o700
    assert mode(paths.catalog) == mode(state_db(built)) == 0o600
