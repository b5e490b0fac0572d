"""ingest/load.py and its readers on hostile input (issue 11): zip bombs, broken BOMs, names too
long for a sidecar, inputs that would take minutes. Each ends as an Article or as one clear
ArticleError naming the file, quickly and without reading what it need not read."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import pytest

from core.errors import ArticleError
from core.paths import live_index, state_db
from core.settings import Settings
from core.types import Article
from ingest.embed import HashingEmbedder
from ingest.load import load_article, sidecar_bytes
from ingest.run import IngestReport
from ingest.update import update_index
from tests.ingest.helpers import make_docx

MB = 1_000_000
SECTIONS = [("Steps", 2, [("p", "Restart the print spooler."), ("ol", ["Open Services."])])]


def load(root: Path, rel: str, max_bytes: int = 20 * MB) -> Article:
    return load_article(root / rel, root, max_bytes)


def reason(root: Path, rel: str, max_bytes: int = 20 * MB) -> str:
    with pytest.raises(ArticleError) as caught:
        load(root, rel, max_bytes)
    assert caught.value.path == rel
    return caught.value.reason


def rezip(src: Path, dst: Path, replace: dict[str, bytes]) -> Path:
    """A copy of the zip ``src`` with some members' contents replaced (or added), deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, replace.pop(info.filename, zin.read(info.filename)))
        for name, data in replace.items():
            zout.writestr(name, data)
    dst.write_bytes(out.getvalue())
    return dst


# ---------------------------------------------------------------------------- zip bombs


def _never_read(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a zip member was read")

    monkeypatch.setattr(zipfile.ZipFile, "open", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "read", refuse)


def test_docx_expanding_over_the_limit_is_refused_unread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = make_docx(tmp_path / "src.docx", "Print spooler", SECTIONS)
    with zipfile.ZipFile(good) as z:
        body = z.read("word/document.xml")
    rezip(good, tmp_path / "bomb.docx", {"word/document.xml": body + b" " * (12 * MB)})
    assert (tmp_path / "bomb.docx").stat().st_size < MB
    _never_read(monkeypatch)

    with zipfile.ZipFile(tmp_path / "bomb.docx") as z:
        unzipped = sum(info.file_size for info in z.infolist())
    assert reason(tmp_path, "bomb.docx", max_bytes=2 * MB) == (
        f"DOCX expands to {unzipped / MB:.0f} MB when unzipped, over the 10 MB limit "
        "(KB_MAX_FILE_MB*5); not read")


def test_docx_with_a_member_compressed_over_100_to_1_is_refused_unread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = make_docx(tmp_path / "src.docx", "Print spooler", SECTIONS)
    rezip(good, tmp_path / "bomb.docx", {"word/media/pad.bin": b"\0" * (8 * MB)})
    _never_read(monkeypatch)

    got = reason(tmp_path, "bomb.docx")
    assert got.startswith("DOCX member word/media/pad.bin expands to 8 MB from ")
    assert got.endswith(":1, over 100:1; a zip bomb? not read")


def test_docx_within_the_limits_still_loads(tmp_path: Path) -> None:
    make_docx(tmp_path / "ok.docx", "Print spooler", SECTIONS)
    assert load(tmp_path, "ok.docx").title == "Print spooler"


def test_any_zip_behind_an_article_suffix_is_checked_too(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.txt", b"\0" * (8 * MB))
    (tmp_path / "notes.txt").write_bytes(out.getvalue())

    assert reason(tmp_path, "notes.txt").startswith("zip member x.txt expands to 8 MB from ")


# ---------------------------------------------------------------------------- text encodings


@pytest.mark.parametrize("data", [b"\xff\xfe\x00\xd8", b"\xfe\xff\xd8\x00A", b"\xff\xfeA"])
def test_utf16_bom_with_invalid_text_after_it_is_a_clear_failure(
        tmp_path: Path, data: bytes) -> None:
    (tmp_path / "bad.md").write_bytes(data)
    assert reason(tmp_path, "bad.md").startswith("is not valid UTF-16 after its byte-order mark")


def test_utf16_sidecar_with_invalid_text_names_the_sidecar(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\nBody.\n")
    (tmp_path / "a.meta.yaml").write_bytes(b"\xff\xfe\x00\xd8")
    with pytest.raises(ArticleError) as caught:
        load(tmp_path, "a.md")
    assert caught.value.path == "a.meta.yaml"


def test_valid_utf16_still_loads(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes("# Überschrift\n\nText.\n".encode("utf-16"))
    assert load(tmp_path, "a.md").title == "Überschrift"


def test_nul_bytes_after_the_sniffed_start_do_not_break_html(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_bytes(b"<h1>T</h1><p>" + b"x " * 5000 + b"a\0b</p>")
    article = load(tmp_path, "a.html")
    assert "\0" not in article.blocks[-1].text


# ---------------------------------------------------------------------------- file names


def test_name_too_long_for_a_sidecar_loads_without_one(tmp_path: Path) -> None:
    name = "k" * 247 + ".md"  # 250 characters; NAME.meta.yaml would be 257, over NAME_MAX
    (tmp_path / name).write_text("# Long name\n\nBody.\n")

    article = load(tmp_path, name)
    assert (article.title, article.path) == ("Long name", name)
    assert sidecar_bytes(tmp_path / name) == b""


# ---------------------------------------------------------------------------- time bounds


@pytest.mark.timeout(20)
@pytest.mark.parametrize("tail", [b"<a hidden>" * 30_000, b"<meta " * 30_000,
                                  b"<title>" * 30_000,
                                  b"<b style='" + b"display: " * 30_000 + b"'>"])
def test_unclosed_tags_in_html_take_linear_time(tmp_path: Path, tail: bytes) -> None:
    (tmp_path / "a.html").write_bytes(b"<h1>T</h1><p>Body text.</p>" + tail)
    assert load(tmp_path, "a.html").blocks[0].text == "Body text."


def test_hidden_elements_are_still_dropped_and_kept_apart(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_bytes(
        b"<h1>T</h1><p>Shown.</p><DIV Hidden>Secret <b>one</b></div>"
        b"<span style=\"color: red; display : none\">two</span><p>After.</p>")
    article = load(tmp_path, "a.html")
    assert [b.text for b in article.blocks] == ["Shown.", "After."]
    assert article.raw_meta["_hidden_text"] == ["Secret one", "two"]


def test_html_nested_deeper_than_the_parser_reads_is_a_clear_failure(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_bytes(b"<p>Before.</p>" + b"<div>" * 300 + b"deep")
    assert "nests elements deeper than" in reason(tmp_path, "a.html")


@pytest.mark.timeout(30)
def test_text_on_one_huge_line_takes_linear_time(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"Title\n\n" + b"word " * 200_000)
    article = load(tmp_path, "a.txt")
    assert article.title == "Title"
    assert " ".join(b.text for b in article.blocks) == ("word " * 200_000).strip()


# ---------------------------------------------------------------------------- PDF


def test_truncated_pdf_is_a_clear_failure(tmp_path: Path) -> None:
    from tests.ingest.helpers import make_pdf

    data = make_pdf(tmp_path / "src.pdf", "Print spooler", SECTIONS).read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 2])
    assert reason(tmp_path, "cut.pdf").startswith(("corrupt or unreadable PDF", "PDF has no"))


def test_any_error_pypdf_raises_is_the_files_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdf

    from tests.ingest.helpers import make_pdf

    def broken(*_args: object, **_kwargs: object) -> None:
        raise IndexError("list index out of range")  # as pypdf does on some broken xrefs

    make_pdf(tmp_path / "a.pdf", "Print spooler", SECTIONS)
    monkeypatch.setattr(pypdf, "PdfReader", broken)
    assert reason(tmp_path, "a.pdf") == (
        "corrupt or unreadable PDF (IndexError: list index out of range)")


# ---------------------------------------------------------------------------- YAML and time


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """Nested anchors: ``width ** levels`` values from a few hundred bytes."""
    return "b0: &b0 [lol]\n" + "".join(
        f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * width)}]\n" for i in range(1, levels + 1))


@pytest.mark.parametrize("where", ["front matter", "sidecar"])
def test_yaml_alias_bomb_is_refused(tmp_path: Path, where: str) -> None:
    body = "# Printer\n\n## Steps\n\n1. Restart the spooler.\n"
    if where == "sidecar":
        (tmp_path / "a.md").write_text(body)
        (tmp_path / "a.meta.yaml").write_text(alias_bomb())
        rel = "a.meta.yaml"
    else:
        (tmp_path / "a.md").write_text(f"---\n{alias_bomb()}---\n{body}")
        rel = "a.md"
    assert len(alias_bomb()) <= 500  # 9 ** 9 = 387 million values
    with pytest.raises(ArticleError) as caught:
        load(tmp_path, "a.md")
    assert caught.value.path == rel
    assert "expands to over 10,000 values" in caught.value.reason


def test_yaml_aliases_within_the_limit_still_load(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ntitle: Printer\nproducts: &p [Windows 11, Windows 10]\n"
                                   "applies_to: *p\n---\n# Printer\n\n## Steps\n\n1. Restart.\n")
    assert load(tmp_path, "a.md").products == ("Windows 11", "Windows 10")


def test_a_self_referring_yaml_alias_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\na: &a [*a]\n---\n# T\n\ntext\n")
    assert "refers to the node that contains it" in reason(tmp_path, "a.md")


def test_a_file_over_its_time_budget_is_that_files_failure(tmp_path: Path) -> None:
    """A budget no file can meet: every file fails with the budget named, none stalls the run,
    and a budget of 0 (no limit) ingests them all."""
    kb = tmp_path / "kb"
    kb.mkdir()
    for n in range(3):
        (kb / f"a{n}.md").write_text(f"# Article {n}\n\n## Steps\n\n" + "Restart it. " * 4000)
    def ingest(name: str, budget: float) -> IngestReport:
        data = tmp_path / name
        return update_index(live_index(data), state_db(data), kb, HashingEmbedder(),
                            Settings(data_dir=data, file_timeout_s=budget), date(2026, 11, 25),
                            allow_empty=True).report

    report = ingest("d1", 0.001)
    assert sorted(f.path for f in report.failed) == ["a0.md", "a1.md", "a2.md"]
    assert all("took over 0.001 s to read (KB_FILE_TIMEOUT_S)" in f.error for f in report.failed)
    report = ingest("d2", 0)
    assert report.failed == [] and report.added == 3


def test_a_yaml_date_that_is_no_real_day_is_kept_as_text(tmp_path: Path) -> None:
    """Found by the metadata fuzz test: ``review_date: 2026-13-45`` raised ValueError from
    PyYAML's date constructor; now it is the text written, which the metadata rules report."""
    (tmp_path / "a.md").write_text("---\ntitle: Printer\nlast_reviewed: 2026-13-45\n---\n"
                                   "# Printer\n\n## Steps\n\n1. Restart the spooler.\n")
    article = load(tmp_path, "a.md")
    assert article.last_reviewed is None
    assert any("last_reviewed" in p for p in article.meta_problems)
