"""ingest/run.py with the hashing embedder and a real Chroma: incremental runs, exact counts,
bad files skipped and reported, and an index that always matches its catalog."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from core.errors import KbError
from core.store import catalog
from core.types import LoadFailure
from ingest.embed import HashingEmbedder
from ingest.run import IngestOptions, IngestReport, ingest_folder
from tests.ingest.helpers import DATA, TEST_KB_IDS, Index

VPN = "network/vpn-reset.md"


def ingest(root: Path, index: Index, embedder: Any = None, **options: Any) -> IngestReport:
    return ingest_folder(root, index.conn, index.collection, embedder or HashingEmbedder(),
                         index.paths.bm25, IngestOptions(**options))


def counts(report: IngestReport) -> dict[str, int]:
    return {k: v for k, v in report.as_json().items() if k not in ("failed", "seconds")}


def assert_consistent(index: Index) -> None:
    """Chroma holds exactly the catalog's chunks, and BM25 was built from the same list."""
    ids = index.catalog_chunk_ids()
    assert index.chroma_ids() == ids
    assert index.collection.count() == len(ids)
    bm25 = json.loads((index.paths.bm25 / "ids.json").read_text())
    assert sorted(bm25["ids"]) == sorted(ids)
    assert bm25["fingerprint"] == catalog.get_kv(index.conn, "fingerprint")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# ---------------------------------------------------------------------------- incremental


def test_first_run_ingests_every_article(kb_copy: Path, index: Index) -> None:
    report = ingest(kb_copy, index)

    assert counts(report) == {"articles": 6, "chunks": 12, "added": 6, "updated": 0,
                              "unchanged": 0, "removed": 0, "embedded_chunks": 12}
    assert report.failed == []
    assert index.article_ids() == sorted(TEST_KB_IDS)
    assert_consistent(index)
    assert catalog.get_kv(index.conn, "model") == "hashing-test-embedder"
    assert catalog.get_kv(index.conn, "source") == str(kb_copy.resolve())


def test_unchanged_rerun_embeds_nothing(kb_copy: Path, index: Index) -> None:
    ingest(kb_copy, index)
    chunk_ids = index.catalog_chunk_ids()

    report = ingest(kb_copy, index)

    assert counts(report) == {"articles": 6, "chunks": 12, "added": 0, "updated": 0,
                              "unchanged": 6, "removed": 0, "embedded_chunks": 0}
    assert index.catalog_chunk_ids() == chunk_ids
    assert_consistent(index)


def test_change_one_add_one_delete_one(kb_copy: Path, index: Index) -> None:
    ingest(kb_copy, index)
    before = index.chunk_texts(VPN)
    edit(kb_copy / VPN, "assign the ticket to **Network-L2**.",
         "assign the ticket to **Network-L3**.")
    (kb_copy / "printing" / "toner-low.txt").unlink()
    (kb_copy / "network" / "new-article.md").write_text(
        "# Proxy settings\n\n## Steps\n\n1. Open Settings.\n2. Select Network.\n\n"
        "## Notes\n\nThe proxy is set by policy.\n", encoding="utf-8")

    report = ingest(kb_copy, index)

    assert counts(report) == {"articles": 6, "chunks": 13, "added": 1, "updated": 1,
                              "unchanged": 4, "removed": 1, "embedded_chunks": 3}
    after = index.chunk_texts(VPN)
    assert set(after) - set(before) != set()
    assert {i: t for i, t in after.items() if i in before} == {
        i: t for i, t in before.items() if "Network-L2" not in t}
    assert "printing/toner-low.txt" not in index.article_ids()
    assert_consistent(index)


def test_only_changed_chunks_are_embedded(kb_copy: Path, index: Index) -> None:
    ingest(kb_copy, index)
    edit(kb_copy / VPN, "sign in again.", "sign in again with your work account.")
    calls: list[list[str]] = []

    class Recording(HashingEmbedder):
        def embed(self, texts: Any, progress: bool = False) -> list[list[float]]:
            calls.append(list(texts))
            return super().embed(texts, progress)

    report = ingest(kb_copy, index, Recording())

    assert report.embedded_chunks == 1
    assert calls == [["Reset the VPN client | Steps\n"
                      "1. Quit the VPN client from the notification area.\n"
                      "2. Delete the folder `%APPDATA%\\ContosoVPN\\cache`.\n"
                      "3. Start the VPN client and sign in again with your work account."]]


def test_metadata_only_change_updates_chroma_without_embedding(kb_copy: Path,
                                                               index: Index) -> None:
    ingest(kb_copy, index)
    sidecar = kb_copy / "printing" / "toner-low.meta.yaml"
    edit(sidecar, "status: published", "status: retired")
    edit(sidecar, "category: Printing", "category: Hardware")

    report = ingest(kb_copy, index)

    assert (report.updated, report.embedded_chunks) == (1, 0)
    got = index.collection.get(where={"article_id": "printing/toner-low.txt"},
                               include=["metadatas"])
    assert {(m["status"], m["category"]) for m in got["metadatas"]} == {("retired", "hardware")}
    assert_consistent(index)


def test_a_new_title_is_embedded_again(kb_copy: Path, index: Index) -> None:
    ingest(kb_copy, index)
    old_ids = set(index.chunk_texts(VPN))
    edit(kb_copy / VPN, "title: Reset the VPN client", "title: Reset the Contoso VPN client")

    report = ingest(kb_copy, index)

    assert set(index.chunk_texts(VPN)) == old_ids  # same text, same ids...
    assert report.embedded_chunks == 3  # ...but the title is part of what is embedded
    got = index.collection.get(ids=sorted(old_ids), include=["documents"])
    assert all(d.startswith("Reset the Contoso VPN client") for d in got["documents"])


def test_a_changed_article_id_replaces_the_old_one(kb_copy: Path, index: Index) -> None:
    ingest(kb_copy, index)
    edit(kb_copy / VPN, "title: Reset the VPN client", "id: KB0000777\ntitle: Reset the VPN client")

    report = ingest(kb_copy, index)

    assert (report.added, report.updated, report.removed) == (0, 1, 0)
    assert VPN not in index.article_ids()
    assert "KB0000777" in index.article_ids()
    assert report.articles == 6
    assert_consistent(index)


def test_a_reused_id_is_reported_and_skipped(kb_copy: Path, index: Index) -> None:
    (kb_copy / "email" / "copy.md").write_text(
        "---\nid: KB0012345\n---\n\n# Copy\n\nA second article claiming the same id.\n",
        encoding="utf-8")

    report = ingest(kb_copy, index)

    assert report.failed == [LoadFailure(
        "email/shared-mailbox.md", "id 'KB0012345' is already used by email/copy.md")]
    assert report.articles == 6
    assert catalog.article_paths(index.conn)["KB0012345"] == "email/copy.md"


def test_readme_hidden_folders_and_sidecars_are_not_articles(kb_copy: Path,
                                                              index: Index) -> None:
    (kb_copy / ".git").mkdir()
    (kb_copy / ".git" / "notes.md").write_text("# Not an article\n\nText.\n", encoding="utf-8")
    (kb_copy / "orphan.meta.yaml").write_text("title: no article\n", encoding="utf-8")
    (kb_copy / "image.png").write_bytes(b"\x89PNG\r\n")

    report = ingest(kb_copy, index)

    assert (report.added, report.failed) == (6, [])


# ---------------------------------------------------------------------------- bad inputs


def add_bad_files(root: Path) -> list[LoadFailure]:
    """Every kind of bad input, and what the run must say about each."""
    bad = root / "bad"
    bad.mkdir()
    for name in ("invalid-yaml.md", "unclosed-front-matter.md", "front-matter-only.md",
                 "broken-sidecar.txt", "broken-sidecar.meta.yaml"):
        shutil.copy(DATA / "bad" / name, bad / name)
    (bad / "empty.md").write_bytes(b"")
    (bad / "binary.html").write_bytes(b"\x00\x01\x02\x03" * 64)
    (bad / "latin1.md").write_bytes("# Caf\xe9\n\nMen\xfc.\n".encode("latin-1"))
    (bad / "huge.txt").write_text("too long " * 2_000, encoding="utf-8")
    (bad / "corrupt.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (bad / "corrupt.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    return [
        LoadFailure("bad/binary.html", "looks binary (contains NUL bytes), not a text article"),
        LoadFailure("bad/broken-sidecar.meta.yaml",
                    "line 2: invalid YAML (expected ',' or ']', but got '<stream end>')"),
        LoadFailure("bad/corrupt.docx", "corrupt or unreadable DOCX (PackageNotFoundError)"),
        LoadFailure("bad/corrupt.pdf", "corrupt or unreadable PDF (Stream has ended "
                                       "unexpectedly)"),
        LoadFailure("bad/empty.md", "file is empty"),
        LoadFailure("bad/front-matter-only.md", "has no body text"),
        LoadFailure("bad/huge.txt",
                    "file is 18,000 bytes, over the 10,000-byte limit (KB_MAX_FILE_MB=0.01)"),
        LoadFailure("bad/invalid-yaml.md", "front matter line 4: invalid YAML (expected ',' or "
                                           "']', but got '<stream end>')"),
        LoadFailure("bad/latin1.md",
                    "is not valid UTF-8 (byte 0xe9 at offset 5); re-save it as UTF-8"),
        LoadFailure("bad/unclosed-front-matter.md",
                    "front matter starts with '---' but has no closing '---' line"),
    ]


def test_bad_files_are_reported_and_the_rest_is_ingested(kb_copy: Path, index: Index) -> None:
    expected = add_bad_files(kb_copy)

    report = ingest(kb_copy, index, max_file_bytes=10_000)

    assert sorted(report.failed, key=lambda f: f.path) == expected
    assert counts(report) == {"articles": 6, "chunks": 12, "added": 6, "updated": 0,
                              "unchanged": 0, "removed": 0, "embedded_chunks": 12}
    assert index.article_ids() == sorted(TEST_KB_IDS)
    assert_consistent(index)


def test_unreadable_file_is_reported(kb_copy: Path, index: Index,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    locked = kb_copy / VPN
    real = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    ingest(kb_copy, index)
    edit(locked, "minute.", "minute or two.")
    monkeypatch.setattr(Path, "read_bytes", denied)

    report = ingest(kb_copy, index)

    assert report.failed == [LoadFailure(VPN, "cannot be read (Permission denied)")]
    assert (report.unchanged, report.removed, report.articles) == (5, 0, 6)


def test_a_broken_file_keeps_its_previous_good_version(kb_copy: Path, index: Index) -> None:
    ingest(kb_copy, index)
    good = index.chunk_texts(VPN)
    (kb_copy / VPN).write_bytes("# R\xe9initialiser le VPN\n".encode("latin-1"))

    report = ingest(kb_copy, index)

    assert report.failed == [LoadFailure(
        VPN, "is not valid UTF-8 (byte 0xe9 at offset 3); re-save it as UTF-8")]
    assert (report.removed, report.updated, report.unchanged) == (0, 0, 5)
    assert index.chunk_texts(VPN) == good
    assert_consistent(index)


def test_model_of_an_existing_index_must_match(kb_copy: Path, index: Index) -> None:
    ingest(kb_copy, index)

    class Other(HashingEmbedder):
        name = "another-model"

    with pytest.raises(KbError, match="built with the model 'hashing-test-embedder', not "
                                      "'another-model'"):
        ingest(kb_copy, index, Other())


def test_root_must_be_a_folder(tmp_path: Path, index: Index) -> None:
    with pytest.raises(KbError, match="not a folder"):
        ingest(tmp_path / "missing", index)


# ---------------------------------------------------------------------------- recovery


def test_vectors_left_by_a_killed_run_are_removed(kb_copy: Path, index: Index) -> None:
    ingest(kb_copy, index)
    index.collection.upsert(ids=["stray-0", "stray-1"], embeddings=[[0.0] * 64, [1.0] * 64],
                            documents=["left", "over"], metadatas=[{"article_id": "x"}] * 2)

    report = ingest(kb_copy, index)

    assert report.unchanged == 6
    assert_consistent(index)


def test_stale_chunks_of_an_updated_article_are_deleted(kb_copy: Path, index: Index) -> None:
    ingest(kb_copy, index)
    edit(kb_copy / VPN, "## Escalation\n\nIf the client still hangs, assign the ticket to "
                        "**Network-L2**.\n", "")

    report = ingest(kb_copy, index)

    assert (report.updated, report.chunks, report.embedded_chunks) == (1, 11, 0)
    assert_consistent(index)


def test_an_empty_folder_is_refused_and_the_index_kept(kb_copy: Path, index: Index) -> None:
    first = ingest(kb_copy, index)
    for path in list(kb_copy.rglob("*")):
        if path.is_file():
            path.unlink()

    with pytest.raises(KbError, match="refusing to remove all 6"):
        ingest(kb_copy, index)
    assert catalog.counts(index.conn)["articles"] == first.articles == 6


def test_deleting_everything_empties_the_index_when_allowed(kb_copy: Path, index: Index) -> None:
    ingest(kb_copy, index)
    for path in list(kb_copy.rglob("*")):
        if path.is_file():
            path.unlink()

    report = ingest(kb_copy, index, allow_empty=True)

    assert counts(report) == {"articles": 0, "chunks": 0, "added": 0, "updated": 0,
                              "unchanged": 0, "removed": 6, "embedded_chunks": 0}
    assert index.chroma_ids() == set()
    assert json.loads((index.paths.bm25 / "ids.json").read_text())["ids"] == []
