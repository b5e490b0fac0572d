"""``obsolete`` and ``partly-obsolete`` read the article: products named in the applies-to
list, an "Applies to:" / "Original product version:" line, the title, headings and the text,
judged against the lifecycle table; unknown products are reported, never assumed supported."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.types import Block
from ingest.load import load_article
from ingest.quality.dates import lifecycle_flag, obsolete_flag, read_products
from ingest.quality.lifecycle import (
    ONGOING,
    article_products,
    load_lifecycle,
    lookup,
    parse_table,
    product_mentions,
    unknown_products,
)
from ingest.quality.policy import DATE_KINDS, KINDS
from ingest.quality.rules import article_flags
from tests.ingest.quality_helpers import AS_OF, POLICY, article, words

IN_2024 = date(2024, 10, 24)


def names(text: str) -> list[str]:
    return [product for product, _ in product_mentions(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("Coexistence with Exchange 2010 and 2013", ["Exchange 2010", "Exchange 2013"]),
    ("Windows 7, 8, 8.1 and Windows 10", ["Windows 7", "Windows 8", "Windows 8.1",
                                          "Windows 10"]),
    ("Microsoft Office Professional Plus 2010 setup", ["Office Professional Plus 2010"]),
    ("Outlook 2016 for Mac crashes", ["Outlook 2016 for Mac"]),
    ("on Windows Server 2008 R2 SP1", ["Windows Server 2008 R2"]),
    ("Exchange Server 2010, Exchange Online", ["Exchange Server 2010", "Exchange Online"]),
    ("use Internet Explorer 11 or IE10", ["Internet Explorer 11", "IE 10"]),
    (".NET Framework 4.5.2 and 4.6", [".NET Framework 4.5.2", ".NET Framework 4.6"]),
    ("Office 97 and Word XP", ["Office 97", "Word XP"]),
])
def test_product_and_version_mentions(text, expected):
    assert names(text) == expected


@pytest.mark.parametrize("text", [
    "Internet Explorer mode in Microsoft Edge",  # IE mode is Edge
    "Windows 7 or later",  # a range that goes on to current versions
    "Windows Server 2008 and later versions",
    "`HKLM\\SOFTWARE\\Microsoft\\Windows NT 4.0\\CurrentVersion`",  # inline code is not read
    "in 2010 the Word 2 format changed",  # a year alone, an app without a year
    "Error 0x80070005",
])
def test_what_is_not_a_product_mention(text):
    assert [n for n in names(text) if n != "Microsoft Edge"] == []


def test_lifecycle_table_knows_current_products_and_old_shorthands():
    table = POLICY.lifecycle
    assert lookup("Exchange Online", table).end_of_support == ONGOING
    assert lookup("Exchange Online", table).end_text == "ongoing"
    assert lookup("Windows 11", table).end_of_support == ONGOING
    assert lookup("Windows Server 2022", table).end_text == "2031-10-14"
    assert lookup("Windows 2008 R2", table).name == "Windows Server 2008 / 2008 R2"
    assert lookup("Window 10 – all editions", table).name == "Windows 10"  # typo in the corpus
    assert lookup("Outlook 2011", table).name == "Office for Mac 2011"
    assert lookup("System Center 2012 Configuration Manager", table).name == \
        "System Center 2012 / 2012 R2"
    assert lookup("Configuration Manager (current branch)", table).end_text == "ongoing"
    assert lookup("Microsoft Edge Legacy", table).name == "Microsoft Edge Legacy"
    assert lookup("Northwind VPN client", table) is None


def test_a_user_table_may_say_ongoing(tmp_path: Path):
    table = parse_table("- name: Northwind VPN\n  match: ['northwind vpn']\n"
                        "  end_of_support: ongoing\n", "mine.yaml")
    assert table[0].end_of_support == ONGOING and not table[0].ended(date(2099, 1, 1))
    with pytest.raises(ConfigError, match="no end_of_support"):
        parse_table("- name: X\n  match: ['x']\n  end_of_support: ''\n", "mine.yaml")


# --- obsolete ------------------------------------------------------------------------------

def test_obsolete_keeps_its_meaning_for_applies_to_lists_all_retired():
    both = article(products=("Windows 7 Enterprise", "Windows Server 2008 R2 SP1"))
    flag = lifecycle_flag(both, POLICY, date(2024, 1, 1))
    assert (flag.kind, flag.severity, flag.evidence["key"]) == ("obsolete", "medium", "products")
    assert flag.reason == ("applies only to products past end of support: Windows 7 Enterprise "
                           "(ended 2020-01-14), Windows Server 2008 R2 SP1 (ended 2020-01-14)")
    assert [r["where"] for r in flag.evidence["products"]] == ["applies-to", "applies-to"]


def test_obsolete_from_the_title_when_no_applies_to():
    old = article(title="Configure the offline address book in Exchange 2010")
    flag = obsolete_flag(old, POLICY, IN_2024)
    assert flag is not None
    assert flag.evidence["products"] == [{
        "product": "Exchange 2010", "where": "title", "lifecycle": "Exchange Server 2010",
        "end_of_support": "2020-10-13",
        "source": "https://learn.microsoft.com/lifecycle/products/?terms=Exchange%20Server%202010"}]
    assert obsolete_flag(old, POLICY, date(2020, 10, 13)) is None  # the end day is still supported


def test_obsolete_from_an_original_product_version_line(tmp_path: Path):
    path = tmp_path / "kb" / "cm.md"
    path.parent.mkdir()
    path.write_text("---\ntitle: Reports don't run\nowner: ann@northwind.example\n"
                    "last_reviewed: 2026-10-01\n---\n# Reports don't run\n\n"
                    "_Original product version:_ Microsoft System Center 2012 R2 Configuration "
                    "Manager  \n_Original KB number:_ 3060813\n\n## Symptoms\n\n" + words(30) +
                    "\n\n## Resolution\n\n" + words(30) + "\n", encoding="utf-8")
    loaded = load_article(path, tmp_path / "kb", 10**6)
    assert loaded.products == ()
    assert [(m.product, m.where) for m in article_products(loaded)] == [
        ("Microsoft System Center 2012 R2 Configuration Manager", "product-line")]
    flags = article_flags(loaded, POLICY, AS_OF)
    assert [(f.kind, f.evidence["key"]) for f in flags] == [("obsolete", "products")]


def test_obsolete_from_the_text_needs_two_mentions_and_nothing_current():
    vista = article("## Steps", "On Windows Vista, open the Control Panel.", words(30),
                    "## More", "Windows Vista keeps the cache in a hidden folder.")
    flag = lifecycle_flag(vista, POLICY, AS_OF)
    assert flag.kind == "obsolete"
    assert flag.reason == "names only products past end of support: Windows Vista (ended " \
                          "2017-04-11)"
    once = article("## Steps", "This was new in Windows Vista.", words(40))
    assert lifecycle_flag(once, POLICY, AS_OF) is None
    mixed = article("## Steps", "On Windows Vista or Windows 11, open Settings.", words(30),
                    "## More", "Windows Vista keeps the cache in a hidden folder.")
    assert lifecycle_flag(mixed, POLICY, AS_OF) is None  # a passing mention, nothing depends


# --- partly-obsolete -----------------------------------------------------------------------

def test_mixed_applies_to_is_partly_obsolete():
    mixed = article(products=("Exchange Server 2010", "Exchange Online"))
    flag = lifecycle_flag(mixed, POLICY, IN_2024)
    assert (flag.kind, flag.severity) == ("partly-obsolete", "low")
    assert flag.reason == ("about Exchange Server 2010 (ended 2020-10-13) as well as Exchange "
                           "Online: check what only the retired products need")
    assert [r["product"] for r in flag.evidence["supported"]] == ["Exchange Online"]
    assert obsolete_flag(mixed, POLICY, IN_2024) is None  # not the medium flag
    assert lifecycle_flag(mixed, POLICY, date(2020, 1, 1)) is None  # both supported then


def test_a_coexistence_scenario_with_a_retired_product_is_partly_obsolete():
    body = ("## Symptoms", "Free/busy lookups fail for users in coexistence with Exchange 2010 "
            "servers that still host mailboxes.", "## Resolution", words(40))
    coexist = article(*body, products=("Exchange Server 2016", "Exchange Online"))
    flag = lifecycle_flag(coexist, POLICY, IN_2024)
    assert flag.kind == "partly-obsolete"
    assert flag.reason == ("part of it depends on retired products: Exchange 2010 (ended "
                           "2020-10-13) in a scenario")
    # the same product named in passing, outside the scenario, is not a dependency
    passing = article("## Overview", words(30), "## More information",
                      "Exchange 2010 used a different database format, which is not covered.",
                      products=("Exchange Server 2016", "Exchange Online"))
    assert lifecycle_flag(passing, POLICY, IN_2024) is None


def test_a_section_for_a_retired_product_is_partly_obsolete_and_negation_is_not():
    versions = article("## Overview", words(30), "## Outlook 2010", words(30),
                       "## Outlook for Microsoft 365", words(30), products=("Outlook",))
    flag = lifecycle_flag(versions, POLICY, IN_2024)
    assert flag.kind == "partly-obsolete"
    assert flag.evidence["unknown"] == [{"product": "Outlook", "where": "applies-to"}]
    negated = article("## Symptoms", "This issue doesn't occur in Windows 7.", words(30),
                      "## Resolution", words(30), products=("Windows 10",))
    assert lifecycle_flag(negated, POLICY, date(2024, 1, 1)) is None


def test_unknown_products_are_reported_never_assumed_supported():
    with_unknown = article(products=("Windows 7", "Northwind VPN client"))
    flag = lifecycle_flag(with_unknown, POLICY, AS_OF)
    assert flag.kind == "partly-obsolete"  # before, the unknown product made it "supported"
    assert flag.evidence["unknown"] == [{"product": "Northwind VPN client",
                                         "where": "applies-to"}]
    only_unknown = article(products=("Northwind VPN client",))
    assert lifecycle_flag(only_unknown, POLICY, AS_OF) is None
    counts = unknown_products([with_unknown, only_unknown,
                               article(products=("Windows 10, version 1809",))],
                              POLICY.lifecycle)
    assert counts == {"Northwind VPN client": 2}


def test_read_products_sorts_every_place():
    art = article("## Symptoms", "Users migrating from Exchange 2007 see the error.",
                  "## Windows 8.1", words(20), "Works in Windows 11 too.",
                  title="Mail stuck in Outlook 2013", products=("Exchange Online",))
    found = read_products(art, POLICY, IN_2024)
    assert [(r["product"], r["where"]) for r in found.retired] == [
        ("Outlook 2013", "title"), ("Windows 8.1", "heading"), ("Exchange 2007", "scenario")]
    assert [(r["product"], r["where"]) for r in found.supported] == [
        ("Exchange Online", "applies-to"), ("Windows 11", "text")]
    assert [r["verdict"] for r in found.subject] == ["supported", "retired"]


def test_new_kind_is_registered_and_recomputed_with_the_date():
    assert "partly-obsolete" in KINDS and "partly-obsolete" in DATE_KINDS


@pytest.mark.parametrize("blocks", [
    (Block("text", ""), Block("heading", "", (), 2)),
    (Block("text", "Windows" * 5000 + " 7 2010 , , and or / 2012"),),
    (Block("text", "Applies to: , ; ,"), Block("code", "Windows 7 Exchange 2010")),
    (Block("list_item", "Exchange 2010, 2013, 2016, 2019, 2022, 2025, 2030 and 1999"),),
])
def test_bad_input_never_crashes(blocks):
    odd = replace(article(), blocks=blocks, title="", products=("", "version 1809", "  "))
    for as_of in (date.min, AS_OF, date.max):
        lifecycle_flag(odd, POLICY, as_of)
    article_products(odd)


def test_a_user_lifecycle_file_overrides_the_text_reading(tmp_path: Path):
    extra = tmp_path / "lifecycle.yaml"
    extra.write_text("- name: Exchange 2010 (our extended contract)\n"
                     "  match: ['exchange( server)? 2010']\n  end_of_support: 2027-01-01\n",
                     encoding="utf-8")
    policy = replace(POLICY, lifecycle=load_lifecycle(extra))
    old = article(title="Configure the offline address book in Exchange 2010")
    assert lifecycle_flag(old, policy, IN_2024) is None
    assert lifecycle_flag(old, POLICY, IN_2024) is not None
