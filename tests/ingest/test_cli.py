"""``kb ingest`` and ``kb status`` called in-process: output, exit status, settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.paths import live_index
from core.store import catalog
from ingest.embed import HashingEmbedder
from kb_cli.main import main
from tests.ingest.helpers import TEST_KB_IDS


@pytest.fixture(autouse=True)
def hashing_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI builds its embedder at the entry point; hand it the deterministic one."""
    monkeypatch.setattr("kb_cli.ingest_cmd.make_embedder", lambda settings: HashingEmbedder())


def kb(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ingest_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = kb(capsys, "ingest", *argv, "--json")
    return code, json.loads(out)


def test_ingest_json_report(capsys: pytest.CaptureFixture[str], kb_copy: Path,
                            tmp_path: Path) -> None:
    code, report = ingest_json(capsys, str(kb_copy), "--data-dir", str(tmp_path / "d"))

    assert code == 0
    assert set(report) >= {"articles", "chunks", "added", "updated", "unchanged", "removed",
                           "embedded_chunks", "failed", "seconds"}
    assert {k: report[k] for k in ("articles", "chunks", "added", "embedded_chunks", "failed")
            } == {"articles": 6, "chunks": 12, "added": 6, "embedded_chunks": 12, "failed": []}

    code, again = ingest_json(capsys, str(kb_copy), "--data-dir", str(tmp_path / "d"))
    assert (code, again["unchanged"], again["embedded_chunks"]) == (0, 6, 0)


def test_ingest_text_report(capsys: pytest.CaptureFixture[str], kb_copy: Path,
                            tmp_path: Path) -> None:
    code, out, err = kb(capsys, "ingest", str(kb_copy), "--data-dir", str(tmp_path / "d"))

    assert code == 0
    assert out.startswith("6 articles, 12 chunks: 6 added, 0 updated, 0 unchanged, 0 removed; "
                          "12 chunks embedded in ")
    assert err == ""


def test_failures_are_listed_but_exit_zero(capsys: pytest.CaptureFixture[str], kb_copy: Path,
                                           tmp_path: Path) -> None:
    (kb_copy / "latin1.md").write_bytes("# Caf\xe9\n".encode("latin-1"))
    (kb_copy / "empty.html").write_bytes(b"")

    code, out, err = kb(capsys, "ingest", str(kb_copy), "--data-dir", str(tmp_path / "d"))

    assert code == 0
    assert out.startswith("6 articles, 12 chunks: 6 added")
    assert err.splitlines() == [
        "  skipped empty.html: file is empty",
        "  skipped latin1.md: is not valid UTF-8 (byte 0xe9 at offset 5); re-save it as UTF-8",
    ]


def test_strict_exits_one_on_any_failure(capsys: pytest.CaptureFixture[str], kb_copy: Path,
                                         tmp_path: Path) -> None:
    (kb_copy / "empty.md").write_bytes(b"")

    code, report = ingest_json(capsys, str(kb_copy), "--data-dir", str(tmp_path / "d"),
                               "--strict")

    assert code == 1
    assert report["failed"] == [{"path": "empty.md", "error": "file is empty"}]
    assert report["articles"] == 6  # the good articles are still ingested


def test_strict_exits_zero_when_nothing_failed(capsys: pytest.CaptureFixture[str],
                                               kb_copy: Path, tmp_path: Path) -> None:
    code, _ = ingest_json(capsys, str(kb_copy), "--data-dir", str(tmp_path / "d"), "--strict")
    assert code == 0


def test_exit_one_when_nothing_could_be_ingested(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    folder = tmp_path / "only-bad"
    folder.mkdir()
    (folder / "empty.md").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x00" * 100)

    code, report = ingest_json(capsys, str(folder), "--data-dir", str(tmp_path / "d"))

    assert code == 1
    assert report["articles"] == 0
    assert [f["path"] for f in report["failed"]] == ["binary.txt", "empty.md"]


def test_not_a_folder_exits_two(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = kb(capsys, "ingest", str(tmp_path / "nope"), "--data-dir",
                        str(tmp_path / "d"))
    assert (code, out) == (2, "")
    assert err == f"kb ingest: {tmp_path / 'nope'}: not a folder\n"


def test_size_limit_and_aliases_come_from_settings(capsys: pytest.CaptureFixture[str],
                                                   kb_copy: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (kb_copy / "big.txt").write_text("padding " * 200, encoding="utf-8")
    (kb_copy / "team.md").write_text("---\nmaintainer: ops@contoso.example\n---\n\n# Team\n\n"
                                     "Who looks after the team site.\n", encoding="utf-8")
    monkeypatch.setenv("KB_MAX_FILE_MB", "0.001")
    monkeypatch.setenv("KB_META_ALIASES", '{"owner": ["maintainer"]}')

    code, report = ingest_json(capsys, str(kb_copy), "--data-dir", str(tmp_path / "d"))

    assert code == 0
    assert report["failed"] == [{"path": "big.txt", "error": "file is 1,600 bytes, over the "
                                 "1,000-byte limit (KB_MAX_FILE_MB=0.001)"}]
    conn = catalog.connect(live_index(tmp_path / "d").catalog)
    assert catalog.get_article(conn, "team.md").owner == "ops@contoso.example"


def test_data_dir_from_the_environment(capsys: pytest.CaptureFixture[str], kb_copy: Path,
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "from-env"))

    code, _ = ingest_json(capsys, str(kb_copy))

    assert code == 0
    assert (tmp_path / "from-env" / "LIVE").read_text() == "index-1\n"


def test_status(capsys: pytest.CaptureFixture[str], kb_copy: Path, tmp_path: Path) -> None:
    data = tmp_path / "d"
    kb(capsys, "ingest", str(kb_copy), "--data-dir", str(data))

    code, out, _ = kb(capsys, "status", "--data-dir", str(data), "--json")

    status = json.loads(out)
    assert code == 0
    assert {k: status[k] for k in ("articles", "chunks", "model", "source", "index")} == {
        "articles": 6, "chunks": 12, "model": "hashing-test-embedder",
        "source": str(kb_copy.resolve()), "index": str(data / "indexes" / "index-1")}
    conn = catalog.connect(live_index(data).catalog)
    assert sorted(a.id for a in catalog.iter_articles(conn)) == sorted(TEST_KB_IDS)

    code, out, _ = kb(capsys, "status", "--data-dir", str(data))
    assert code == 0
    assert out.splitlines()[:2] == ["articles     6", "chunks       12"]


def test_status_without_an_index(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = kb(capsys, "status", "--data-dir", str(tmp_path / "empty"))
    assert (code, out) == (1, "")
    assert err == f"no index in {tmp_path / 'empty'}: run 'kb ingest' first\n"
    assert not (tmp_path / "empty").exists()
