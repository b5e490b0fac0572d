"""The rules that need the whole KB: broken links and duplicates; and how ``kb_flags`` composes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core.types import Block
from ingest.quality.duplicates import (
    candidate_pairs,
    different_subjects,
    duplicate_flags,
    find_duplicates,
    overlap,
    shingles,
    title_codes,
)
from ingest.quality.links import LinkIndex, anchor_ids, broken_link_flags
from ingest.quality.rules import kb_flags
from tests.ingest.quality_helpers import AS_OF, GOOD_BODY, POLICY, article, words


def linking(*links: str, id: str = "network/vpn-split-tunnel.md", **fields):
    return article(*GOOD_BODY, Block("text", "See also.", ("Resolution",), links=links), id=id,
                   **fields)


TARGET = article("## Resolution", words(80), "## Method 2: Use the web app", words(10),
                 id="network/vpn-cannot-connect.md", url="https://kb.northwind.example/vpn")


def broken(*links: str) -> list[tuple[str, str]]:
    source = linking(*links)
    flags = broken_link_flags(source, LinkIndex.build([source, TARGET]))
    return [(f.evidence["link"], f.evidence["problem"]) for f in flags]


def test_links_that_resolve_are_fine():
    assert broken("vpn-cannot-connect.md", "./vpn-cannot-connect.md#resolution",
                  "../network/vpn-cannot-connect.md#Method-2-Use-the-web-app",
                  "vpn-cannot-connect#method-2-use-the-web-app", "#symptoms",
                  "https://kb.northwind.example/vpn/#resolution") == []


def test_missing_articles_and_sections_are_broken():
    assert broken("recycle-bin.md", "vpn-cannot-connect.md#no-such-part", "#nowhere",
                  "https://kb.northwind.example/vpn#gone") == [
        ("recycle-bin.md", "no such article"),
        ("vpn-cannot-connect.md#no-such-part", "no such section"),
        ("#nowhere", "no such section"),
        ("https://kb.northwind.example/vpn#gone", "no such section")]


def test_declared_anchors_and_the_title_count_as_sections():
    source = linking("vpn-cannot-connect.md#bkmk_old", "vpn-cannot-connect.md#a-test-article",
                     "..\\network\\vpn-cannot-connect.md#Resolution")
    declared = anchor_ids('## <a id="bkmk_old"></a>Old\n<h2 id=fixes>Fixes</h2> <p data-id=3>')
    assert declared == {"bkmk_old", "fixes"}
    index = LinkIndex.build([source, TARGET], {TARGET.path: declared})
    assert broken_link_flags(source, index) == []
    assert [f.evidence["anchor"] for f in broken_link_flags(source, LinkIndex.build(
        [source, TARGET]))] == ["bkmk_old"]


def test_links_outside_the_kb_are_not_judged():
    assert broken("https://example.com/x", "mailto:desk@northwind.example", "../media/vpn.png",
                  "/troubleshoot/windows/vpn", "files/setup.zip",
                  "IEnumerable input, PSDataCollection`1 output") == []


def test_a_link_above_the_kb_root_is_broken():
    assert broken("../../outside.md") == [("../../outside.md", "no such article")]


def test_broken_link_flag_names_the_section_and_target():
    source = linking("../storage/recycle-bin-retention.md")
    [flag] = broken_link_flags(source, LinkIndex.build([source]))
    assert (flag.kind, flag.severity) == ("broken-link", "medium")
    assert flag.evidence["target"] == "storage/recycle-bin-retention.md"
    assert flag.reason == ("links to ../storage/recycle-bin-retention.md, which is not in the KB "
                           "(in Resolution)")


def test_shingles_and_overlap_exact():
    a = shingles("Reset the password. Reset the PIN")
    assert a == frozenset({"reset", "the", "password", "pin"})
    b = shingles("reset the password now")
    assert overlap(a, b) == (3 / 5, 3 / 4)
    assert overlap(a, frozenset()) == (0.0, 0.0)
    assert shingles("Reset the password. Reset the PIN", size=2) == frozenset(
        {"reset the", "the password", "password reset", "the pin"})


def test_titles_that_name_different_codes_are_different_subjects():
    # a year after a product name is a version (issue 15); a year in a date is not
    assert title_codes("Fix NDR error 5.7.12 in Exchange Online 2016") == {"5.7.12", "2016"}
    assert title_codes("Fix NDR error 5.7.12 since June 2016") == {"5.7.12"}
    assert different_subjects("Fix NDR error 5.7.12", "Fix NDR error 5.7.13 or 5.7.135")
    assert not different_subjects("Error 0x274d", "0x2AFC or 0x274D error")  # one inside
    assert not different_subjects("Updates for Windows Server 2008 R2 SP1 clusters",
                                  "Updates for Windows Server 2008 R2-based clusters")
    assert not different_subjects("Reset your password", "Error 0x80070005")


def test_candidate_pairs_keep_top_neighbours_above_threshold():
    vecs = np.array([[1, 0, 0], [0.99, 0.141, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    pairs = candidate_pairs(["a", "b", "c", "d"], vecs, 0.95)
    assert [(p[0], p[1]) for p in pairs] == [("a", "b")]
    assert pairs[0][2] == pytest.approx(0.99, abs=1e-3)
    assert candidate_pairs(["a"], vecs[:1], 0.5) == []


def test_duplicates_need_both_similar_vectors_and_shared_wording():
    text = "To reset a forgotten password open the self service portal and follow the steps " * 3
    one = article("## Resolution", text, id="accounts/a.md")
    two = article("## Resolution", text + " then sign in again", id="accounts/b.md")
    other = article("## Resolution", words(60, "printer"), id="printing/c.md")
    same = np.array([1.0, 0.0], dtype=np.float32)
    vectors = {"accounts/a.md": same, "accounts/b.md": same, "printing/c.md": same}
    [pair] = find_duplicates([one, two, other], vectors, POLICY)
    assert (pair.first, pair.second, pair.similarity) == ("accounts/a.md", "accounts/b.md", 1.0)
    assert (pair.overlap, pair.containment) == (0.7778, 1.0)  # 14 of 18 words shared
    strict = replace(POLICY, duplicate_overlap=0.99)
    assert find_duplicates([one, two, other], vectors, strict) == []
    flags = duplicate_flags([pair], {"accounts/a.md": "A", "accounts/b.md": "B"})
    assert [(f.article_id, f.evidence["other"]) for f in flags] == [
        ("accounts/a.md", "accounts/b.md"), ("accounts/b.md", "accounts/a.md")]
    assert flags[0].reason.startswith("near-duplicate of accounts/b.md ('B'): similarity 1.00")


def test_a_rewrite_counts_a_little_below_the_similarity_threshold():
    one = article("## Steps", "Open the portal, then type your email and pick two methods to "
                  "reset the password. Lock the screen.", id="a.md")
    two = article("## Steps", "To reset a password: pick two methods in the portal once your "
                  "email is typed, then lock your screen.", id="b.md")  # 62% words, 17% pairs
    near = {"a.md": np.array([1.0, 0.0], dtype=np.float32),
            "b.md": np.array([0.87, 0.4931], dtype=np.float32)}  # cosine 0.87
    [pair] = find_duplicates([one, two], near, POLICY)
    assert (pair.kind, pair.similarity) == ("rewrite", 0.87)
    copied = replace(two, blocks=one.blocks)  # same sentences: a copy, but not similar enough
    assert find_duplicates([one, copied], near, POLICY) == []
    [flag, _] = duplicate_flags([pair], {})
    assert flag.reason.startswith("a rewrite of b.md ('b.md'): similarity 0.87")
    assert flag.evidence["match"] == "rewrite"


def test_kb_flags_skip_retired_articles_and_fragments_in_duplicates():
    text = words(80, "same")
    live = article("## Overview", text, id="a.md")
    retired = article("## Overview", text, id="b.md", status="retired")
    fragment = article(text, id="includes/c.md", title="c", raw_meta={}, owner=None)
    vectors = {k: np.array([1.0, 0.0], dtype=np.float32) for k in ("a.md", "b.md",
                                                                     "includes/c.md")}
    flags = kb_flags([live, retired, fragment], vectors, POLICY, AS_OF)
    assert [(f.article_id, f.kind, f.evidence["key"]) for f in flags] == [
        ("includes/c.md", "unstructured", "fragment")]
