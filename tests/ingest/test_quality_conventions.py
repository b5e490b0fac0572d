"""Flags that fit other KBs' conventions (issue 15): identifiers that keep near-duplicates
apart, FAQ and security-bulletin article types, and review dates shared in bulk."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from ingest.load import load_article
from ingest.quality.dates import bulk_review_dates, date_flags, stale_flag
from ingest.quality.duplicates import (
    different_identifiers,
    different_subjects,
    find_duplicates,
    title_identifiers,
)
from ingest.quality.policy import DEFAULT_REQUIRED_SECTIONS
from ingest.quality.rules import article_flags, kb_flags
from ingest.quality.structure import detect_type, missing_sections_flag
from tests.ingest.quality_helpers import AS_OF, POLICY, article, words

# --- duplicates: identifiers in titles -----------------------------------------------------

#: one bulletin template, filled in for different CVEs (a real case: five Java bulletins at
#: similarity 0.91-0.93 were flagged as duplicates)
BULLETIN_TEXT = ("A vulnerability in the Java runtime that ships with the product could allow a "
                 "remote attacker to run code. Install the fixed runtime from the download site "
                 "and restart the application server to apply it. ") * 3


@pytest.mark.parametrize(("first", "second"), [
    ("Security Bulletin: Java vulnerability CVE-2021-44228", "Security Bulletin: Java "
     "vulnerability CVE-2021-45046"),
    ("Java bulletin (CVE-2021-2161, CVE-2021-2163)",  # a superset is another bulletin
     "Java bulletin (CVE-2021-2161, CVE-2021-2163, CVE-2021-2341)"),
    ("Installing KB5005565 fails", "Installing KB5006670 fails"),
    ("Issues after installing MS16-065", "Issues after installing MS16-072"),
    ("Exchange 2013 mailbox moves stall", "Exchange 2016 mailbox moves stall"),
    ("Agent 8.0.7 release notes", "Agent 8.0.8 release notes"),
    ("SQL Server 2016 SP2 setup fails", "SQL Server 2016 SP1 setup fails"),
    ("Error 0x80070005 in Windows Update", "Error 0x80070002 in Windows Update"),
    ("VPN error 809", "VPN error 868"),
])
def test_titles_that_differ_by_an_identifier_are_different_subjects(first, second):
    assert different_subjects(first, second)
    assert different_subjects(second, first)


@pytest.mark.parametrize(("first", "second"), [
    ("Reset your password", "Reset your password in the portal"),  # no identifier at all
    ("Error 0x274d", "0x2AFC or 0x274D error"),  # one article covers both codes
    ("Updates for Windows Server 2008 R2 SP1 clusters",
     "Updates for Windows Server 2008 R2-based clusters"),
    ("Issues after the June 2022 security updates",  # a year in a date is not a version
     "Issues after the July 2022 security updates"),
    ("Java bulletin CVE-2021-44228", "Java bulletin: cve-2021-44228"),  # same id, any case
    ("Release notes 2023-01-13", "Release notes 2023-02-13"),  # ISO dates are not versions
])
def test_titles_naming_the_same_or_no_identifiers_may_be_duplicates(first, second):
    assert not different_subjects(first, second)


def test_title_identifiers_by_kind():
    found = title_identifiers("KB 5005565 and MS16-065 fix CVE-2021-44228 in Exchange 2016 "
                              "SP2 (error 0x80070005) since June 2022")
    assert found["cve"] == {"cve-2021-44228"}
    assert found["kb"] == {"kb5005565"}
    assert found["bulletin"] == {"ms16-065"}
    assert found["code"] == {"2016", "sp2", "0x80070005"}


def test_the_identifier_rule_keeps_bulletins_apart_in_find_duplicates():
    one = article("## Remediation", BULLETIN_TEXT, id="sec/a.md",
                  title="Security Bulletin: Java vulnerability CVE-2021-44228")
    two = article("## Remediation", BULLETIN_TEXT, id="sec/b.md",
                  title="Security Bulletin: Java vulnerability CVE-2021-45046")
    copy = article("## Remediation", BULLETIN_TEXT, id="sec/c.md",
                   title="Security Bulletin: Java vulnerability CVE-2021-44228 (copy)")
    same = np.array([1.0, 0.0], dtype=np.float32)
    vectors = {"sec/a.md": same, "sec/b.md": same, "sec/c.md": same}
    pairs = find_duplicates([one, two, copy], vectors, POLICY)
    assert [(p.first, p.second) for p in pairs] == [("sec/a.md", "sec/c.md")]


def test_bulletins_citing_disjoint_cves_in_their_text_are_not_duplicates():
    title = "Security Bulletin: vulnerability in the Java runtime affects the product"
    one = article("## Vulnerability details", BULLETIN_TEXT + " CVE-2022-21426.", id="a.md",
                  title=title)
    two = article("## Vulnerability details", BULLETIN_TEXT + " CVE-2022-21434.", id="b.md",
                  title=title)
    shared = article("## Vulnerability details", BULLETIN_TEXT + " CVE-2022-21426 and "
                     "CVE-2022-21434.", id="c.md", title=title)
    assert different_identifiers(one, two)
    assert not different_identifiers(one, shared)  # one CVE in common: may be a copy
    same = np.array([1.0, 0.0], dtype=np.float32)
    pairs = find_duplicates([one, two], {"a.md": same, "b.md": same}, POLICY)
    assert pairs == []


# --- article types: FAQ and security bulletin ----------------------------------------------

FAQ_BODY = ("## What is a site mailbox?", words(30, "answer"),
            "## How do I keep the data from my site mailbox?", words(30, "answer"),
            "## Will deleting it remove the documents?", words(30, "answer"),
            "## Issues we know about", words(30, "answer"))


def test_an_faq_is_not_judged_as_a_troubleshooting_article():
    faq = article(*FAQ_BODY)  # "Issues we know about" would make it troubleshooting
    assert detect_type(faq, POLICY) == ("faq", [
        "3 of 4 headings are questions (What is a site mailbox?)"])
    assert missing_sections_flag(faq, POLICY) is None
    assert article_flags(faq, POLICY, AS_OF) == []
    # without the question headings the same article is troubleshooting, missing sections
    plain = article("## Overview", words(30), "## Issues we know about", words(30))
    assert detect_type(plain, POLICY)[0] == "troubleshooting"
    assert missing_sections_flag(plain, POLICY) is not None


def test_question_and_answer_markers_make_an_faq_when_they_are_most_of_it():
    pairs = []
    for n in range(1, 4):
        pairs += [f"QUESTION {n}: Can the agent restart the service on its own?",
                  f"ANSWER {n}: " + words(30, "yes")]
    faq = article("## Problem", words(20), *pairs)
    kind, signals = detect_type(faq, POLICY)
    assert kind == "faq"
    assert signals[0].startswith("3 question markers, ")
    assert missing_sections_flag(faq, POLICY) is None
    # a troubleshooting article with a short FAQ section at the end stays troubleshooting
    guide = article("## Symptoms", words(200), "## Cause", words(200), "## FAQ", *pairs[:4])
    assert detect_type(guide, POLICY)[0] == "troubleshooting"
    assert missing_sections_flag(guide, POLICY).evidence["missing"] == ["resolution"]


def test_an_faq_named_so_without_questions_is_flagged():
    empty = article("## Overview", words(60), title="Frequently asked questions about VPN")
    flag = missing_sections_flag(empty, POLICY)
    assert flag is not None
    assert flag.reason == "faq article without question section"
    assert flag.evidence["type_signals"] == ["title: Frequently asked questions"]
    lines = article("## Overview", "Can I use VPN at home?", words(20),
                    "Which client do I install?", words(20), title="VPN FAQ")
    assert missing_sections_flag(lines, POLICY) is None  # lines phrased as questions count


def test_a_security_bulletin_has_its_own_sections(tmp_path: Path):
    path = tmp_path / "kb" / "sec" / "java-bulletin.md"
    path.parent.mkdir(parents=True)
    path.write_text("---\ntitle: 'Security Bulletin: Vulnerability in Java affects the agent "
                    "(CVE-2021-44228)'\nowner: sec@northwind.example\nlast_reviewed: 2026-10-01\n"
                    "products: [Northwind Agent 8.0]\n---\n\n## Summary\n\n" + words(40) +
                    "\n\n## Vulnerability details\n\nCVE-2021-44228: " + words(40) +
                    "\n\n## Remediation\n\n" + words(40) + "\n", encoding="utf-8")
    bulletin = load_article(path, tmp_path / "kb", 10**6)
    kind, signals = detect_type(bulletin, POLICY)
    assert kind == "bulletin"
    assert signals == ["title: Security Bulletin", "heading: Vulnerability details",
                       "CVE ids: CVE-2021-44228"]
    assert article_flags(bulletin, POLICY, AS_OF) == []
    # no remediation, no affected products: a bulletin missing its own sections
    bare = replace(bulletin, products=(), blocks=bulletin.blocks[:4])
    flag = missing_sections_flag(bare, POLICY)
    assert flag is not None and flag.evidence["missing"] == ["affected", "remediation"]
    assert flag.reason == "bulletin article without affected or remediation section"


def test_a_troubleshooting_article_about_a_bulletin_stays_troubleshooting():
    after = article("## Symptoms", words(30), "## Resolution", words(30),
                    title="Cannot connect after installing Security Bulletin MS16-065")
    assert detect_type(after, POLICY)[0] == "troubleshooting"
    advisory = article("## Affected products", words(30), "## Mitigating factors", words(30),
                       title="Northwind Agent hardening")
    assert detect_type(advisory, POLICY)[0] == "bulletin"  # two bulletin headings


def test_metadata_names_the_type_under_any_alias():
    for value, kind in (("FAQ", "faq"), ("security-advisory", "bulletin"),
                        ("Security Bulletin", "bulletin")):
        typed = article("## Symptoms", words(60),
                        raw_meta={"title": "t", "owner": "o", "type": value})
        assert detect_type(typed, POLICY) == (kind, [f"metadata type: {value.lower()}"])


def test_a_policy_without_the_faq_rule_never_judges_an_faq_as_troubleshooting():
    only_howto = replace(POLICY, required_sections={"troubleshooting": ("issue", "resolution"),
                                                    "how-to": ("steps",)})
    assert missing_sections_flag(article(*FAQ_BODY), only_howto) is None
    assert set(DEFAULT_REQUIRED_SECTIONS) == {"troubleshooting", "faq", "bulletin"}


# --- review dates shared in bulk -----------------------------------------------------------

def _kb(shared: int, others: int, day: date) -> list:
    old = [article(id=f"m/{i}.md", last_reviewed=day) for i in range(shared)]
    return old + [article(id=f"r/{i}.md", last_reviewed=day + timedelta(days=1 + i % 300))
                  for i in range(others)]


def test_a_date_shared_by_many_articles_is_a_date_of_record():
    day = date(2020, 9, 8)
    articles = _kb(60, 240, day)
    assert bulk_review_dates((a.last_reviewed for a in articles), POLICY) == {day: 60}
    flags = kb_flags(articles, {}, POLICY, AS_OF)
    stale = next(f for f in flags if f.article_id == "m/0.md")
    assert stale.reason == ("last_reviewed 2020-09-08 is shared by 60 articles: a bulk change, "
                            "not a review; 2269 days before 2026-11-25, the policy allows 365 "
                            "days (default)")
    assert (stale.evidence["key"], stale.evidence["date_of_record"],
            stale.evidence["shared_by"]) == ("review-age", True, 60)
    other = next(f for f in flags if f.article_id == "r/0.md")
    assert other.reason.startswith("last reviewed 2020-09-09, ")
    assert "date_of_record" not in other.evidence


def test_the_bulk_threshold_is_a_share_of_the_kb_and_a_minimum_count():
    day = date(2021, 3, 1)
    dates = [day] * 49 + [None] * 10
    assert bulk_review_dates(dates, POLICY) == {}  # under the minimum of 50
    assert bulk_review_dates([day] * 50, POLICY) == {day: 50}
    big = [day] * 60 + [date(2022, 1, 1) + timedelta(days=i) for i in range(9000)]
    assert bulk_review_dates(big, POLICY) == {}  # 60 is under 1% of 9,060 articles
    strict = replace(POLICY, bulk_review_share=0.5, bulk_review_min=3)
    assert bulk_review_dates([day] * 3 + [None], strict) == {day: 3}
    assert bulk_review_dates([], POLICY) == {}


def test_a_bulk_date_within_the_limit_is_not_flagged_and_a_review_is_not_bulk():
    recent = article(last_reviewed=AS_OF - timedelta(days=30))
    assert stale_flag(recent, POLICY, AS_OF, {recent.last_reviewed: 500}) is None
    old = article(last_reviewed=date(2024, 1, 1))
    assert "bulk" not in stale_flag(old, POLICY, AS_OF, {}).reason
    assert [f.kind for f in date_flags(old, POLICY, AS_OF, None)] == ["stale"]
