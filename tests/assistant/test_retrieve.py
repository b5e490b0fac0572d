"""Retrieval over real indexes built with the real model: fusion, per-article results,
permissions, lifecycle filters, staleness and exact tokens."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from assistant.answer import answer_json
from assistant.calibration import load_calibration
from assistant.retrieve import RetrievalParams, rank_score
from assistant.service import Assistant, ask, run_retrieval
from assistant.types import Retrieval, Viewer
from tests.assistant.helpers import (
    DRAFT,
    EXPIRED,
    KB_SAMPLES,
    REFERENCE_DATE,
    RESTRICTED,
    RETIRED,
)

pytestmark = pytest.mark.integration

OUTSIDER = Viewer()
SECURITY = Viewer(frozenset({"security-team"}))
HR = Viewer(frozenset({"hr"}))
EVERY_GROUP = Viewer(frozenset({"security-team", "hr"}))

#: strings that occur in one restricted article of kb_samples and nowhere else
RESTRICTED_MARKERS = {
    "security/phishing-incident-response.md": ["AADSTS50140", "Get-InboxRule"],
    "accounts/privileged-access-request.md": ["bg-admin01", "PRIV-TRAIN-2026"],
    "network/firewall-change-request.md": ["Panorama", "SEC-Firewall", "EDGE-FW01"],
    "onboarding/leaver-process-confidential.md": ["iam-confidential", "ext. 4410"],
}
TITLES = {
    "security/phishing-incident-response.md":
        "Phishing incident response runbook (user clicked or entered credentials)",
    "accounts/privileged-access-request.md":
        "Requesting privileged (admin) access and PIM role activation",
    "network/firewall-change-request.md": "Processing firewall rule change requests",
    "onboarding/leaver-process-confidential.md":
        "Confidential and same-day exits - IT actions for HR",
    EXPIRED: "VPN gateway certificate change on 15 June 2026: what users need to do",
    RETIRED: "Installing and connecting with Cisco AnyConnect",
    DRAFT: "Windows 11 24H2 upgrade - frequently asked questions",
}
PROBES = [
    *(TITLES[a] for a in RESTRICTED),
    "AADSTS50140 interrupt in the sign-in logs after a phishing click",
    "Get-InboxRule forwarding rules created by an attacker",
    "break-glass account bg-admin01 sign-in alert",
    "activate a Tier 0 PIM role, PRIV-TRAIN-2026 training report",
    "firewall rule change in Panorama, SEC-Firewall queue",
    "confidential exit: IAM duty phone ext. 4410, iam-confidential mailbox",
    "user clicked a phishing link and entered their password",
    "how do I get admin rights",
]


def ids(retrieval: Retrieval) -> list[str]:
    return [a.article_id for a in retrieval.articles]


def test_restricted_markers_are_unique_to_their_articles() -> None:
    """Guard for the permission tests: a marker found elsewhere would prove nothing."""
    for article_id, markers in RESTRICTED_MARKERS.items():
        for marker in markers:
            holders = {p.relative_to(KB_SAMPLES).as_posix() for p in KB_SAMPLES.rglob("*.*")
                       if marker in p.read_text(encoding="utf-8", errors="ignore")}
            assert holders == {article_id}, marker


# --- per-article aggregation and fusion -------------------------------------------------


def test_results_are_distinct_articles_and_a_long_article_does_not_fill_every_slot(
        test_assistant: Assistant) -> None:
    retrieval = run_retrieval(test_assistant, "docking station monitors not working",
                              OUTSIDER, REFERENCE_DATE, k=3)

    assert ids(retrieval)[0] == "dock/dock-monitors-guide.md"
    assert sorted(ids(retrieval)) == ["dock/dock-hotdesk.md", "dock/dock-monitors-guide.md",
                                      "dock/dock-ordering.md"]
    guide = retrieval.articles[0]
    assert len(guide.hits) >= 4  # its eight matching sections are one result, not eight
    assert {h.article_id for h in guide.hits} == {guide.article_id}
    assert [h.score for h in guide.hits] == sorted((h.score for h in guide.hits), reverse=True)


def test_k_limits_articles_not_chunks(test_assistant: Assistant) -> None:
    retrieval = run_retrieval(test_assistant, "windows update error", OUTSIDER,
                              REFERENCE_DATE, k=5)
    assert len(retrieval.articles) == 5
    assert len(set(ids(retrieval))) == 5


def test_scores_fuse_dense_and_lexical_evidence(test_assistant: Assistant,
                                                real_embedder: object) -> None:
    question = "windows update error 0x80070005"
    params = RetrievalParams.from_calibration(load_calibration())
    retrieval = run_retrieval(test_assistant, question, OUTSIDER, REFERENCE_DATE, k=10,
                              params=params)
    q = np.asarray(real_embedder.embed([question])[0])  # type: ignore[attr-defined]
    collection = test_assistant.index.collection
    scores = [a.score for a in retrieval.articles]
    assert scores == sorted(scores, reverse=True)
    lexical_values = [h.lexical for a in retrieval.articles for h in a.hits]
    assert max(lexical_values) == pytest.approx(1.0)  # BM25 normalised by the best candidate
    assert all(0.0 <= v <= 1.0 for v in lexical_values)
    for article in retrieval.articles:
        stored = collection.get(ids=[h.chunk_id for h in article.hits], include=["embeddings"])
        vectors = dict(zip(stored["ids"], stored["embeddings"], strict=True))
        for hit in article.hits:
            assert hit.dense == pytest.approx(float(np.dot(vectors[hit.chunk_id], q)), abs=1e-4)
            assert hit.score == pytest.approx(hit.dense + params.weights["lexical"] * hit.lexical)
        assert article.features["dense"] == pytest.approx(max(h.dense for h in article.hits))
        assert article.features["lexical"] == pytest.approx(max(h.lexical for h in article.hits))
        fused = rank_score(article.features, params.weights)
        penalty = abs(fused) * (1 - params.stale_penalty) if article.hits[0].stale else 0.0
        assert article.score == pytest.approx(fused - penalty)


# --- exact tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "expected"), [
    ("0x80070005", "updates/update-error-0x80070005.md"),
    ("0x80070002", "updates/update-error-0x80070002.md"),
    ("windows update fails with 0x8024402F", "updates/update-error-0x8024402f.md"),
    ("KB3035936", "updates/security-update-kb3035936.md"),
    ("3035936", "updates/security-update-kb3035936.md"),
    ("problems after KB3035583", "updates/security-update-kb3035583.md"),
    ("Event ID 6010", "updates/event-6010.md"),
    ("event 6008 in the system log", "updates/event-6008.md"),
])
def test_exact_tokens_pick_the_article_that_contains_them(
        test_assistant: Assistant, question: str, expected: str) -> None:
    retrieval = run_retrieval(test_assistant, question, OUTSIDER, REFERENCE_DATE, k=3)
    assert ids(retrieval)[0] == expected
    assert retrieval.articles[0].features["exact"] == 1.0


def test_an_error_code_question_is_answered_from_the_article_with_that_code(
        test_assistant: Assistant) -> None:
    answer = ask(test_assistant, "0x80070005", OUTSIDER, REFERENCE_DATE, record=False)
    assert answer.answered
    assert answer.citations[0].article_id == "updates/update-error-0x80070005.md"
    assert "0x80070005" in answer.answer
    assert "0x80070002" not in answer.answer


# --- staleness ------------------------------------------------------------------------------


def test_a_stale_article_ranks_below_its_fresh_twin_and_is_cited_with_a_warning(
        test_assistant: Assistant) -> None:
    question = "configure the badge reader on the reception kiosk"
    retrieval = run_retrieval(test_assistant, question, OUTSIDER, REFERENCE_DATE, k=3)
    fresh, stale = retrieval.articles[:2]
    assert (fresh.article_id, stale.article_id) == ("kiosk/badge-reader-fresh.md",
                                                    "kiosk/badge-reader-stale.md")
    assert stale.features == pytest.approx(fresh.features)  # equal but for the review date
    penalty = RetrievalParams.from_calibration(load_calibration()).stale_penalty
    assert stale.score == pytest.approx(fresh.score * penalty, rel=1e-4)
    assert all(h.stale for h in stale.hits) and not any(h.stale for h in fresh.hits)

    answer = ask(test_assistant, question, OUTSIDER, REFERENCE_DATE, record=False)
    by_article = {c.article_id: c for c in answer.citations}
    assert by_article["kiosk/badge-reader-fresh.md"].stale is False
    cited_stale = by_article["kiosk/badge-reader-stale.md"]
    assert cited_stale.stale is True
    assert cited_stale.last_reviewed == "2020-01-15"
    reason = cited_stale.stale_reason or ""
    assert reason == "last reviewed 6 years ago; the policy is yearly"
    assert answer.note == (f"Warning: [{cited_stale.n}] cites an article that may be out of "
                           f"date ({reason}); verify first.")
    shown = answer_json(answer)["citations"]
    assert [c["stale"] for c in shown] == [c.stale for c in answer.citations]


def test_a_stale_article_ranks_below_its_fresh_twin_whatever_the_sign_of_the_score(
        test_assistant: Assistant) -> None:
    """A fitted re-ranker can have a negative offset; the penalty must still push down."""
    shipped = RetrievalParams.from_calibration(load_calibration())
    params = RetrievalParams({**shipped.weights, "bias": -100.0}, shipped.confidence)
    retrieval = run_retrieval(test_assistant, "configure the badge reader on the reception kiosk",
                              OUTSIDER, REFERENCE_DATE, k=3, params=params)
    assert retrieval.articles[0].score < 0
    assert ids(retrieval)[:2] == ["kiosk/badge-reader-fresh.md", "kiosk/badge-reader-stale.md"]


def test_a_stale_sample_article_is_flagged_in_the_answer(sample_assistant: Assistant) -> None:
    answer = ask(sample_assistant, "guest wifi for visitors", OUTSIDER, REFERENCE_DATE,
                 record=False)
    assert answer.answered
    top = answer.citations[0]
    assert (top.article_id, top.stale, top.last_reviewed) == (
        "network/wifi-guest-access.txt", True, "2024-08-14")
    assert answer.note is not None and answer.note.startswith("Warning: [1]")


def test_an_article_without_a_review_date_counts_as_stale(sample_assistant: Assistant) -> None:
    retrieval = run_retrieval(sample_assistant, "OneDrive sync issues", OUTSIDER,
                              REFERENCE_DATE, k=5)
    onedrive = next(a for a in retrieval.articles
                    if a.article_id == "storage/onedrive-sync-issues.md")
    assert {h.stale for h in onedrive.hits} == {True}
    (reason,) = {h.stale_reason for h in onedrive.hits}
    assert reason and "review" in reason


# --- permissions ----------------------------------------------------------------------------


def _leaks(answer_text: str) -> list[str]:
    return [m for markers in RESTRICTED_MARKERS.values() for m in markers if m in answer_text]


@pytest.mark.parametrize("question", PROBES)
@pytest.mark.parametrize("viewer", [OUTSIDER, Viewer(frozenset({"it-staff"}))],
                         ids=["no-groups", "other-group"])
def test_restricted_articles_never_reach_an_outsider(sample_assistant: Assistant,
                                                     question: str, viewer: Viewer) -> None:
    retrieval = run_retrieval(sample_assistant, question, viewer, REFERENCE_DATE, k=10)
    assert not set(ids(retrieval)) & set(RESTRICTED)
    assert not {h.article_id for a in retrieval.articles for h in a.hits} & set(RESTRICTED)

    answer = ask(sample_assistant, question, viewer, REFERENCE_DATE, record=False)
    shown = answer_json(answer)
    assert not {c["article_id"] for c in shown["citations"]} & set(RESTRICTED)
    assert not {r["article_id"] for r in shown["related"]} & set(RESTRICTED)
    everything = "\n".join([answer.answer, *(c.snippet for c in answer.citations),
                            *(c.text for c in answer.citations),
                            *(r["title"] for r in shown["related"])])
    assert _leaks(everything) == []
    assert not any(TITLES[a] in everything for a in RESTRICTED)


@pytest.mark.parametrize("article_id", list(RESTRICTED))
def test_a_restricted_article_is_found_by_its_group(sample_assistant: Assistant,
                                                    article_id: str) -> None:
    viewer = Viewer(frozenset({RESTRICTED[article_id]}))
    retrieval = run_retrieval(sample_assistant, TITLES[article_id], viewer, REFERENCE_DATE)
    assert ids(retrieval)[0] == article_id
    answer = ask(sample_assistant, TITLES[article_id], viewer, REFERENCE_DATE, record=False)
    assert answer.answered
    assert answer.citations[0].article_id == article_id


def test_one_group_does_not_open_another_groups_articles(sample_assistant: Assistant) -> None:
    for question in PROBES:
        got = set(ids(run_retrieval(sample_assistant, question, HR, REFERENCE_DATE, k=10)))
        assert not got & {a for a, g in RESTRICTED.items() if g == "security-team"}, question


def test_group_names_match_case_insensitively(sample_assistant: Assistant) -> None:
    viewer = Viewer(frozenset({"Security-Team"}))
    title = TITLES["network/firewall-change-request.md"]
    assert ids(run_retrieval(sample_assistant, title, viewer, REFERENCE_DATE))[0] == \
        "network/firewall-change-request.md"


# --- lifecycle: expired, retired, draft -----------------------------------------------------


@pytest.mark.parametrize("question", [
    TITLES[EXPIRED], TITLES[RETIRED], TITLES[DRAFT],
    "VPN certificate change on 15 June, Northwind Root CA G2, error 13801",
    "install Cisco AnyConnect 4.10 and connect to asa.northwind.example",
    "Windows 11 24H2 upgrade, can I postpone it",
])
def test_expired_retired_and_draft_articles_are_never_returned(
        sample_assistant: Assistant, question: str) -> None:
    retrieval = run_retrieval(sample_assistant, question, EVERY_GROUP, REFERENCE_DATE, k=10)
    assert not set(ids(retrieval)) & {EXPIRED, RETIRED, DRAFT}
    answer = ask(sample_assistant, question, EVERY_GROUP, REFERENCE_DATE, record=False)
    assert not {c.article_id for c in answer.citations} & {EXPIRED, RETIRED, DRAFT}
    assert not {r["article_id"] for r in answer.related} & {EXPIRED, RETIRED, DRAFT}


def test_an_article_is_returned_until_its_valid_until_date(sample_assistant: Assistant) -> None:
    title = TITLES[EXPIRED]
    assert ids(run_retrieval(sample_assistant, title, OUTSIDER, date(2026, 6, 30)))[0] == EXPIRED
    assert EXPIRED not in ids(run_retrieval(sample_assistant, title, OUTSIDER,
                                            date(2026, 7, 1), k=10))


# --- narrowing ------------------------------------------------------------------------------


def test_category_narrows_to_that_category(sample_assistant: Assistant) -> None:
    retrieval = run_retrieval(sample_assistant, "certificate error", Viewer(category="network"),
                              REFERENCE_DATE, k=10)
    index = sample_assistant.index
    categories = {index.articles[index.article_row[a]].category for a in ids(retrieval)}
    assert retrieval.articles and categories == {"Network"}


def test_a_viewer_who_may_see_nothing_gets_nothing(sample_assistant: Assistant) -> None:
    empty = replace(OUTSIDER, category="no-such-category")
    retrieval = run_retrieval(sample_assistant, "vpn", empty, REFERENCE_DATE)
    assert (retrieval.articles, retrieval.confidence) == ((), 0.0)
