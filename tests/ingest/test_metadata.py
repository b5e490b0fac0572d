"""ingest/metadata.py (and where load.py finds metadata): every source's keys mapped onto kb's."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from ingest.load import load_article
from ingest.metadata import as_list, normalise, parse_date, split_front_matter
from tests.ingest.helpers import TEST_KB, make_docx, make_pdf

STEPS = [("Steps", 2, [("p", "Open the app and follow the prompts on the screen.")])]


def values(raw: dict[str, Any], aliases: dict[str, list[str]] | None = None) -> dict[str, Any]:
    result = normalise(raw, aliases)
    assert result.problems == ()
    return result.values


# ---------------------------------------------------------------------------- aliases


@pytest.mark.parametrize(("raw", "expected"), [
    ({"ms.date": "3/7/2024"}, {"last_reviewed": date(2024, 3, 7)}),
    ({"ms.date": "09/18/2020"}, {"last_reviewed": date(2020, 9, 18)}),
    ({"ms.author": "luche", "author": "helenclu"}, {"owner": "luche"}),
    ({"author": "helenclu"}, {"owner": "helenclu"}),
    ({"appliesto": ["Outlook 2021", "Outlook 2019"]},
     {"products": ("Outlook 2021", "Outlook 2019")}),
    ({"applies_to": "Windows 10, Windows 11"}, {"products": ("Windows 10", "Windows 11")}),
    ({"ms.custom": "sap:dns, csstroubleshoot"}, {"category": "dns"}),
    ({"ms.custom": ["CSSTroubleshoot", "sap:Mail Flow", "CI 1234"]}, {"category": "Mail Flow"}),
    ({"ms.custom": ["sap:Office Suite (Access, Excel, Word)\\Installation"]},
     {"category": "Office Suite (Access, Excel, Word)\\Installation"}),
    ({"ms.custom": "csstroubleshoot"}, {}),
    ({"ms.custom": ["CSSTroubleshoot", "CI 115922"]}, {}),
    ({"Category": "Network", "ms.custom": "sap:dns"}, {"category": "Network"}),
    ({"audience": "ITPro"}, {}),  # Microsoft Learn's reader type, not an access restriction
    ({"groups": ["HR", "hr", "Security-Team"]}, {"groups": ("HR", "hr", "Security-Team")}),
    ({"groups": "everyone"}, {"groups": ()}),
    ({"restricted_to": "hr; finance"}, {"groups": ("hr", "finance")}),
    ({"state": "Archived"}, {"status": "retired"}),
    ({"status": "In Review"}, {"status": "draft"}),
    ({"expires": "2027-01-31"}, {"valid_until": date(2027, 1, 31)}),
    ({"keywords": "vpn, reset, vpn"}, {"tags": ("vpn", "reset")}),
    ({"kb_id": "KB0042", "title": "  Padded title "}, {"id": "KB0042", "title": "Padded title"}),
    ({"owner": "", "author": "second@contoso.example"}, {"owner": "second@contoso.example"}),
    ({"TITLE": "Upper-case key"}, {"title": "Upper-case key"}),
    ({"description": "not a kb key", "ms.topic": "troubleshooting"}, {}),
])
def test_builtin_aliases(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    assert values(raw) == expected


def test_configured_aliases_come_before_the_builtin_ones() -> None:
    raw = {"maintainer": "ops@contoso.example", "author": "Jane Smith",
           "ms.service": "exchange-online", "ms.custom": "sap:Mail Flow"}
    aliases = {"owner": ["maintainer"], "category": ["ms.service"]}

    assert values(raw, aliases) == {"owner": "ops@contoso.example",
                                    "category": "exchange-online"}
    assert values(raw) == {"owner": "Jane Smith", "category": "Mail Flow"}


def test_configured_aliases_reach_load_article(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "---\nmaintainer: ops@contoso.example\nreview-date: 2026-02-01\n---\n\n# A\n\nText.\n",
        encoding="utf-8")
    aliases = {"owner": ["maintainer"], "last_reviewed": ["review-date"]}

    article = load_article(tmp_path / "a.md", tmp_path, 10_000, aliases)

    assert (article.owner, article.last_reviewed) == ("ops@contoso.example", date(2026, 2, 1))
    assert load_article(tmp_path / "a.md", tmp_path, 10_000).owner is None


def test_aliases_are_configured_through_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_META_ALIASES", '{"owner": ["maintainer", "ms.reviewer"]}')
    assert Settings().meta_aliases == {"owner": ["maintainer", "ms.reviewer"]}


def test_bad_values_are_reported_as_problems() -> None:
    result = normalise({"ms.date": "13/45/2020", "status": "maybe", "valid_until": "soon"})
    assert result.values == {"last_reviewed": None, "valid_until": None}
    assert result.problems == (
        "last_reviewed: cannot read date '13/45/2020' (expected YYYY-MM-DD)",
        "valid_until: cannot read date 'soon' (expected YYYY-MM-DD)",
        "status: unknown value 'maybe' (expected draft, published or retired)",
    )


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-25", date(2026, 11, 25)), ("11/25/2026", date(2026, 11, 25)),
    ("1/5/2021", date(2021, 1, 5)), ("2026/11/25", date(2026, 11, 25)),
    ("25.11.2026", date(2026, 11, 25)), ("2026-11-25T09:30:00Z", date(2026, 11, 25)),
    ("November 25, 2026", date(2026, 11, 25)), ("", None), (None, None),
    (date(2026, 1, 2), date(2026, 1, 2)),
])
def test_parse_date(text: Any, expected: date | None) -> None:
    assert parse_date(text) == expected


def test_as_list() -> None:
    assert as_list("a, b;c,,a") == ("a", "b", "c")
    assert as_list(["x, y", " z ", None, "z"]) == ("x, y", "z", "None")
    assert as_list(None) == ()


def test_front_matter_numbers_stay_as_written() -> None:
    raw, body = split_front_matter(
        "---\ntags: [0x87D00607, 1.10, 007]\nlast_reviewed: 2026-01-02\nfeatured: true\n---\n"
        "Body\n", "a.md")
    assert raw == {"tags": ["0x87D00607", "1.10", "007"], "last_reviewed": date(2026, 1, 2),
                   "featured": True}
    assert body == "Body\n"


def test_sidecar_numbers_stay_as_written(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Install error\n\nSoftware Center shows an error. Retry "
                                    "the install.\n", encoding="utf-8")
    (tmp_path / "a.meta.yaml").write_text("tags: [0x87D00607, sccm]\nproducts: [Office 2016]\n",
                                          encoding="utf-8")
    article = load_article(tmp_path / "a.txt", tmp_path, 10_000)
    assert (article.tags, article.products) == (("0x87D00607", "sccm"), ("Office 2016",))


# ---------------------------------------------------------------------------- each source


def test_markdown_front_matter_with_every_kb_key() -> None:
    article = load_article(TEST_KB / "network/vpn-reset.md", TEST_KB, 10_000)
    assert (article.owner, article.groups, article.products, article.category, article.status,
            article.last_reviewed, article.valid_until, article.url, article.tags) == (
        "tom.becker@contoso.example", ("network-team", "service-desk"),
        ("Contoso VPN", "Windows 11"), "Network", "published", date(2026, 3, 2),
        date(2027, 3, 2), "https://help.contoso.example/kb/vpn-reset", ("vpn", "reset"))


def test_microsoft_learn_front_matter() -> None:
    article = load_article(TEST_KB / "microsoft/outlook-add-in-disabled.md", TEST_KB, 10_000)
    assert (article.title, article.owner, article.products, article.category,
            article.last_reviewed, article.groups, article.status) == (
        "Outlook disables an add-in at startup", "luche",
        ("Outlook for Microsoft 365", "Outlook 2021"), "Outlook for Windows\\Add-ins",
        date(2024, 3, 7), (), "published")
    assert article.raw_meta["audience"] == "ITPro"


def test_applies_to_line_gives_the_products() -> None:
    article = load_article(TEST_KB / "microsoft/netlogon-event-5719.md", TEST_KB, 10_000)
    assert article.products == ("Windows Server 2019", "Windows 10 - all editions")
    assert (article.category, article.last_reviewed, article.owner) == (
        "netlogon-secure-channel", date(2020, 9, 18), "delhan")


def test_appliesto_front_matter_beats_the_applies_to_line(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "---\nappliesto:\n  - Exchange Online\n---\n# A\n\n_Applies to:_ Windows 10\n\n"
        "## Cause\n\nText.\n", encoding="utf-8")
    assert load_article(tmp_path / "a.md", tmp_path, 10_000).products == ("Exchange Online",)


def test_applies_to_line_only_near_the_top(tmp_path: Path) -> None:
    paragraphs = "".join(f"Paragraph number {n} of the introduction.\n\n" for n in range(8))
    (tmp_path / "a.md").write_text(f"# A\n\n{paragraphs}Applies to: Windows 10\n",
                                   encoding="utf-8")
    assert load_article(tmp_path / "a.md", tmp_path, 10_000).products == ()


def test_html_meta_tags() -> None:
    article = load_article(TEST_KB / "network/wifi-guest.html", TEST_KB, 10_000)
    assert (article.title, article.owner, article.products, article.category,
            article.last_reviewed, article.tags) == (
        "Guest Wi-Fi access", "li.wei@contoso.example", ("Contoso Guest Wi-Fi", "Cisco ISE"),
        "Network", date(2026, 1, 15), ("wifi", "guest"))


def test_html_title_meta_beats_the_title_element(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        '<html><head><title>Element title</title><meta name="dc.title" content="Meta &amp; title">'
        '<meta property="ms.date" content="2/3/2025"></head><body><p>Body text here.</p></body>'
        "</html>", encoding="utf-8")
    article = load_article(tmp_path / "a.html", tmp_path, 10_000)
    assert (article.title, article.last_reviewed) == ("Meta & title", date(2025, 2, 3))


def test_sidecar_metadata_for_plain_text() -> None:
    article = load_article(TEST_KB / "printing/toner-low.txt", TEST_KB, 10_000)
    assert (article.title, article.owner, article.products, article.category,
            article.last_reviewed, article.tags) == (
        "Replace a toner cartridge", "anna.kowalski@contoso.example", ("Ricoh IM C3000",),
        "Printing", date(2026, 5, 20), ("toner", "printer"))


def test_docx_core_properties(tmp_path: Path) -> None:
    make_docx(tmp_path / "a.docx", "Map a network drive", STEPS, author="li.wei@contoso.example",
              category="Storage", keywords="drive, share", subject="Mapping drives")
    article = load_article(tmp_path / "a.docx", tmp_path, 10**6)
    assert (article.title, article.owner, article.category, article.tags) == (
        "Map a network drive", "li.wei@contoso.example", "Storage", ("drive", "share"))


def test_docx_sidecar_overrides_core_properties(tmp_path: Path) -> None:
    make_docx(tmp_path / "a.docx", "Core title", STEPS, author="Jane Smith", category="Storage")
    (tmp_path / "a.meta.yaml").write_text(
        "title: Sidecar title\nowner: jane.smith@contoso.example\nstatus: draft\n"
        "groups: [storage-team]\n", encoding="utf-8")
    article = load_article(tmp_path / "a.docx", tmp_path, 10**6)
    assert (article.title, article.owner, article.category, article.status, article.groups) == (
        "Sidecar title", "jane.smith@contoso.example", "Storage", "draft", ("storage-team",))


def test_pdf_document_info(tmp_path: Path) -> None:
    make_pdf(tmp_path / "a.pdf", "Clear the Teams cache", STEPS,
             author="sam.okafor@contoso.example", keywords="teams, cache",
             subject="Clearing the cache", creator="Word 2019")
    article = load_article(tmp_path / "a.pdf", tmp_path, 10**6)
    assert (article.title, article.owner, article.tags) == (
        "Clear the Teams cache", "sam.okafor@contoso.example", ("teams", "cache"))
    assert "creator" not in article.raw_meta  # the program that wrote the PDF, not a person
    assert "producer" not in article.raw_meta


def test_pdf_sidecar_overrides_document_info(tmp_path: Path) -> None:
    make_pdf(tmp_path / "a.pdf", "Info title", STEPS, author="Sam Okafor")
    (tmp_path / "a.meta.yaml").write_text(
        "owner: sam.okafor@contoso.example\nlast_reviewed: 2026-08-18\nproducts: [Teams]\n",
        encoding="utf-8")
    article = load_article(tmp_path / "a.pdf", tmp_path, 10**6)
    assert (article.title, article.owner, article.last_reviewed, article.products) == (
        "Info title", "sam.okafor@contoso.example", date(2026, 8, 18), ("Teams",))
