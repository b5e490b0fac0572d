"""Eval metrics against values computed by hand (the working is in each test)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from evals.metrics import (
    auroc,
    citation_precision_recall,
    groundedness,
    hit_at,
    key_fact_recall,
    mean,
    mrr_at,
    ndcg_at,
    percentile,
    recall_at,
    supported,
    token_f1,
)

RANKED = ["a", "b", "c", "d", "e"]
GOLD = {"b", "d", "x"}  # "x" is never retrieved


def test_recall_at_k() -> None:
    assert recall_at(RANKED, GOLD, 1) == 0.0  # {a}
    assert recall_at(RANKED, GOLD, 2) == pytest.approx(1 / 3)  # b of {b, d, x}
    assert recall_at(RANKED, GOLD, 4) == pytest.approx(2 / 3)  # b, d
    assert recall_at(RANKED, GOLD, 10) == pytest.approx(2 / 3)
    assert recall_at(RANKED, {"a"}, 1) == 1.0
    assert recall_at(RANKED, set(), 5) == 0.0


def test_hit_at_k() -> None:
    assert hit_at(RANKED, GOLD, 1) == 0.0
    assert hit_at(RANKED, GOLD, 2) == 1.0
    assert hit_at([], GOLD, 10) == 0.0


def test_mrr_is_the_inverse_rank_of_the_first_gold_within_k() -> None:
    assert mrr_at(RANKED, GOLD) == 0.5  # b at rank 2
    assert mrr_at(RANKED, {"e"}) == 0.2
    assert mrr_at(RANKED, {"e"}, k=4) == 0.0
    assert mrr_at(RANKED, {"zz"}) == 0.0


def test_ndcg_uses_binary_gains_and_the_ideal_ranking_of_all_gold() -> None:
    # DCG: b at rank 2 and d at rank 4 -> 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068
    # IDCG: three gold articles at ranks 1..3 -> 1 + 1/log2(3) + 1/log2(4) = 1 + 0.63093 + 0.5
    assert ndcg_at(RANKED, GOLD) == pytest.approx(1.0616063 / 2.1309298, abs=1e-6)
    assert ndcg_at(RANKED, GOLD) == pytest.approx(0.4981893, abs=1e-6)
    # k=2: DCG = 1/log2(3); IDCG over min(3, 2) = 2 slots = 1 + 1/log2(3)
    assert ndcg_at(RANKED, GOLD, k=2) == pytest.approx(0.6309298 / 1.6309298, abs=1e-6)
    assert ndcg_at(["b", "d"], {"b", "d"}) == 1.0
    assert ndcg_at(RANKED, set()) == 0.0


def test_mean_of_nothing_is_zero() -> None:
    assert mean([]) == 0.0
    assert mean([1.0, 0.0, 0.5]) == 0.5


def test_percentile_interpolates_linearly_like_numpy() -> None:
    values = [40, 10, 30, 20]  # sorted: 10 20 30 40
    assert percentile(values, 50) == 25.0  # position 1.5 -> 20 + 0.5 * 10
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48.0)  # 3.8 -> 40 + 0.8 * 10
    assert percentile([0.6, 0.9], 5) == pytest.approx(0.615)  # 0.05 -> 0.6 + 0.05 * 0.3
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) == 0.0
    for q in (5, 37.5, 95):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_auroc_counts_ties_as_half() -> None:
    # pairs (p, n): (.9,.5)=1 (.9,.1)=1 (.5,.5)=.5 (.5,.1)=1 (.5,.5)=.5 (.5,.1)=1 -> 5/6
    assert auroc([0.9, 0.5, 0.5], [0.5, 0.1]) == pytest.approx(5 / 6)
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    assert auroc([0.5, 0.5], [0.5]) == 0.5
    assert auroc([], [0.5]) == 0.0
    assert auroc([0.5], []) == 0.0


def test_key_fact_recall_ignores_case_markup_and_spacing() -> None:
    answer = "Run `gpupdate   /force`, then **Restart** the\nlaptop."
    assert key_fact_recall(answer, ["GPUpdate /force", "restart the laptop", "certutil"]) == \
        pytest.approx(2 / 3)
    assert key_fact_recall(answer, []) == 0.0
    assert key_fact_recall("", ["x"]) == 0.0


def test_token_f1_clips_repeated_tokens() -> None:
    # answer 3 tokens, reference 6, overlap 3: P = 1, R = 1/2, F1 = 2/3
    assert token_f1("the cat sat", "the cat sat on the mat") == pytest.approx(2 / 3)
    # "the" x3 vs reference {the, cat}: overlap 1, P = 1/3, R = 1/2, F1 = 2*(1/6)/(5/6) = 0.4
    assert token_f1("the the the", "the cat") == pytest.approx(0.4)
    assert token_f1("Error 0x80070005!", "error 0x80070005") == 1.0
    assert token_f1("nothing shared", "else entirely") == 0.0
    assert token_f1("", "x") == 0.0


def test_citation_precision_and_recall_count_distinct_articles() -> None:
    # cited {a, b, c}, gold {a, d}: precision 1/3, recall 1/2
    assert citation_precision_recall(["a", "a", "b", "c"], {"a", "d"}) == \
        pytest.approx((1 / 3, 1 / 2))
    assert citation_precision_recall(["a"], {"a"}) == (1.0, 1.0)
    assert citation_precision_recall([], {"a"}) == (0.0, 0.0)
    assert citation_precision_recall(["a"], set()) == (0.0, 0.0)


PASSAGE = "To fix it, restart the Print Spooler service and clear the queue."


def test_supported_needs_most_content_words_in_the_passage() -> None:
    # words over 2 letters: restart the print spooler service -> 5 of 5 present
    assert supported("Restart the print spooler service.", PASSAGE)
    # restart the fax gateway server -> restart, the present: 2/5 = 0.4 < 0.6
    assert not supported("Restart the fax gateway server.", PASSAGE)
    # restart the spooler gateway server -> 3/5 = 0.6, exactly the threshold
    assert supported("Restart the spooler gateway server.", PASSAGE)
    assert not supported("Restart the spooler gateway server.", PASSAGE, threshold=0.61)
    assert supported("Do it.", PASSAGE)  # no content word to check


def test_groundedness_is_the_share_of_lines_supported_by_a_passage_they_cite() -> None:
    other = "Order toner from the portal."
    lines = [("Restart the print spooler service", [PASSAGE]),  # supported
             ("Restart the print spooler service", [other, PASSAGE]),  # one of two suffices
             ("Order a new fax gateway", [PASSAGE]),  # not supported
             ("Restart the print spooler service", [])]  # cites nothing
    assert groundedness(lines) == 0.5
    assert groundedness([]) == 0.0


def test_metrics_do_not_change_their_inputs() -> None:
    ranked, gold = ["c", "a", "b"], {"a", "b"}
    values, pos, neg = [3.0, 1.0, 2.0], [0.2, 0.9], [0.5, 0.1]
    facts, cited = ["b", "a"], ["b", "a", "b"]
    lines = [("a b c", ["c b a"]), ("x", [])]
    before = copy.deepcopy((ranked, gold, values, pos, neg, facts, cited, lines))
    for k in (1, 3):
        recall_at(ranked, gold, k)
        hit_at(ranked, gold, k)
        mrr_at(ranked, gold, k)
        ndcg_at(ranked, gold, k)
    percentile(values, 50)
    mean(values)
    auroc(pos, neg)
    key_fact_recall("a b", facts)
    citation_precision_recall(cited, gold)
    groundedness(lines)
    assert (ranked, gold, values, pos, neg, facts, cited, lines) == before


def test_ndcg_working_matches_math() -> None:
    """The constants above, recomputed, so a typo in them cannot hide a wrong metric."""
    assert 1 / math.log2(3) + 1 / math.log2(5) == pytest.approx(1.0616063, abs=1e-7)
    assert 1 + 1 / math.log2(3) + 1 / math.log2(4) == pytest.approx(2.1309298, abs=1e-7)


def test_first_fact_line_is_the_first_line_holding_any_key_fact() -> None:
    from evals.metrics import first_fact_line

    lines = ["Open Settings.", "Set **VPN type** to SSTP.", "Run `gpupdate /force`."]
    assert first_fact_line(lines, ["gpupdate /force", "SSTP"]) == 2
    assert first_fact_line(lines, ["certutil"]) is None


def test_median_of_odd_even_and_empty() -> None:
    from evals.metrics import median

    assert (median([3, 1, 2]), median([4, 1, 3, 2]), median([])) == (2.0, 2.5, None)
