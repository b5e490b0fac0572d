"""Access fails closed (issue 11): an article whose groups or status cannot be read, or that
carries a key looking like a typo of one of them (``group: [finance]``, ``status: drfat``),
is out of service (no answers, no page) for everyone but owners and admins until fixed, and
carries a high ``access-unclear`` metadata flag. Real loader, real ingest, small files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from assistant.service import open_assistant, run_retrieval
from assistant.types import Viewer
from assistant.users import User, reader
from core.paths import live_index
from core.store import catalog
from core.visibility import Audience, access_problems, in_service, visible
from ingest.embed import HashingEmbedder
from ingest.load import load_article
from ingest.metadata import normalise
from ingest.quality.policy import QualityPolicy
from ingest.quality.rules import article_flags
from tests.assistant.helpers import build_hashing_kb, front_matter

AS_OF = date(2026, 11, 25)
BODY = """\
# {title}

## Steps

1. Open the {word} expense portal and sign in with your badge.
2. Submit the {word} reimbursement form before the fifth working day of the month.
3. Attach the {word} receipts as PDF files and press Send.
"""
META = {"owner": "fin@northwind.example", "category": "Finance", "last_reviewed": "2026-10-01"}
ARTICLES = {
    # typo of "groups": meant for finance only, read as "everyone" before the fix
    "finance/typo-group.md": front_matter(title="ZQX-GROUP-7731 payroll", group=["finance"],
                                          status="published", **META)
    + BODY.format(title="ZQX-GROUP-7731 payroll", word="zqxgroup"),
    # typo of "draft": published to everyone before the fix
    "finance/typo-status.md": front_matter(title="ZQX-STATUS-7731 bonus", status="drfat",
                                           **META)
    + BODY.format(title="ZQX-STATUS-7731 bonus", word="zqxstatus"),
    # groups that are not a list of names
    "finance/bad-groups.md": front_matter(title="ZQX-BADGROUPS-7731 audit", status="published",
                                          **META).replace("\n---\n", "\ngroups: {finance: yes}"
                                                                     "\n---\n", 1)
    + BODY.format(title="ZQX-BADGROUPS-7731 audit", word="zqxbadgroups"),
    # a clean public article, the control
    "finance/public.md": front_matter(title="Travel expenses", status="published", **META)
    + BODY.format(title="Travel expenses", word="travel"),
}
UNCLEAR = ("finance/typo-group.md", "finance/typo-status.md", "finance/bad-groups.md")
QUESTIONS = {"finance/typo-group.md": "zqxgroup expense portal reimbursement receipts",
             "finance/typo-status.md": "zqxstatus expense portal reimbursement receipts",
             "finance/bad-groups.md": "zqxbadgroups expense portal reimbursement receipts"}


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hashing_kb(tmp_path_factory.mktemp("fail-closed"), ARTICLES)


def test_the_loader_records_access_problems(kb: Path) -> None:
    root = kb.parent / "kb"
    problems = {rel: access_problems(load_article(root / rel, root, 10**7).meta_problems)
                for rel in ARTICLES}
    assert problems["finance/public.md"] == ()
    assert problems["finance/typo-group.md"] == (
        "groups: front-matter key 'group' looks like a typo of 'groups'; who may see the "
        "article is unclear",)
    assert problems["finance/typo-status.md"] == (
        "status: unknown value 'drfat' (expected draft, published or retired)",)
    assert problems["finance/bad-groups.md"][0].startswith(
        "groups: expected a list of group names")


@pytest.mark.parametrize("raw", [
    {"grups": "finance"}, {"groupss": ["finance"]}, {"stauts": "published"},
    {"statsu": "draft"}, {"visiblity": "hr"}, {"groups": [["finance"]]}, {"groups": [True]},
    {"status": ["draft"]}, {"status": "drfat"}])
def test_unreadable_or_misspelt_access_metadata_is_a_problem(raw: dict) -> None:
    assert access_problems(normalise(raw).problems)


@pytest.mark.parametrize("raw", [
    {"groups": "finance, hr"}, {"groups": ["finance"]}, {"status": "Live"}, {"owner": "x"},
    {"audience": "ITPro"}, {"ms.topic": "troubleshooting"}, {"groups": "everyone"}])
def test_readable_access_metadata_is_not(raw: dict) -> None:
    assert normalise(raw).problems == ()


def test_never_in_retrieval_for_anyone(kb: Path) -> None:
    assistant = open_assistant(kb, HashingEmbedder())
    try:
        for rel, question in QUESTIONS.items():
            for viewer in (Viewer(), Viewer(frozenset({"finance"}))):
                found = run_retrieval(assistant, question, viewer, AS_OF, k=10)
                ids = {a.article_id for a in found.articles}
                assert rel not in ids, (rel, viewer)
                assert not any("ZQX" in a.title for a in found.articles)
        control = run_retrieval(assistant, "travel expense portal reimbursement", Viewer(),
                                AS_OF, k=10)
        assert "finance/public.md" in {a.article_id for a in control.articles}
        mask = assistant.index.visible_articles(frozenset(), AS_OF)
        shown = {a.id for a, ok in zip(assistant.index.articles, mask, strict=True) if ok}
        assert shown == {"finance/public.md"}
    finally:
        assistant.index.conn.close()
        assistant.state.close()


def test_pages_only_for_owners_and_admins(kb: Path) -> None:
    conn = catalog.connect(live_index(kb, create=False).catalog)
    try:
        for rel in UNCLEAR:
            article = catalog.get_article(conn, rel)
            assert article is not None and not in_service(article, AS_OF)
            for role, groups, sees in (("agent", frozenset(), False),
                                       ("agent", frozenset({"finance"}), False),
                                       ("lead", frozenset({"finance"}), False),
                                       ("owner", frozenset(), True),
                                       ("admin", frozenset(), True)):
                assert visible(reader(User("u", role, groups)), article, AS_OF) is sees, \
                    (rel, role, groups)
            assert not visible(Audience(frozenset({"finance"}), all_groups=True), article,
                               AS_OF)
    finally:
        conn.close()


def test_a_high_access_unclear_flag(kb: Path) -> None:
    root = kb.parent / "kb"
    policy = QualityPolicy()
    for rel in ARTICLES:
        flags = article_flags(load_article(root / rel, root, 10**7), policy, AS_OF)
        unclear = [f for f in flags if f.evidence.get("key") == "access-unclear"]
        if rel == "finance/public.md":
            assert unclear == []
            continue
        [flag] = unclear
        assert (flag.kind, flag.severity) == ("metadata", "high")
        # the typo is reported once, as the access problem (no medium "typo:group" besides)
        assert not [f for f in flags if f.evidence.get("key") in ("typo:group",
                                                                  "bad-value:status")]
