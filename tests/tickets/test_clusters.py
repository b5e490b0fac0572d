"""Topics of uncovered tickets: the cut tree, one-offs left out, c-TF-IDF terms."""

from __future__ import annotations

import numpy as np

from tickets import clusters
from tickets.clusters import class_terms, find_topics, silhouette


def unit(*xs: float) -> list[float]:
    v = np.asarray(xs, dtype=np.float64)
    return list(v / np.linalg.norm(v))


#: two tight topics (around axes 0 and 1) and a one-off on axis 2
VECTORS = np.asarray([unit(1, .1, 0), unit(1, 0, .1), unit(1, .05, .05),
                      unit(.1, 1, 0), unit(0, 1, .1),
                      unit(0, 0, 1)], dtype=np.float32)
TEXTS = ["expense receipt upload fails", "expense report receipt missing",
         "receipt expense approval stuck", "battery not charging", "battery swollen laptop",
         "ergonomic keyboard"]


def test_topics_largest_first_one_offs_left_out() -> None:
    topics = find_topics(VECTORS, TEXTS)
    assert [sorted(t.members) for t in topics] == [[0, 1, 2], [3, 4]]
    assert topics[0].members[0] == 2  # the most central ticket first
    assert topics[0].terms[:2] == ("expense", "receipt")
    assert topics[1].terms[0] == "battery"
    assert 0.99 < topics[0].cohesion <= 1.0


def test_the_threshold_decides_what_joins() -> None:
    # at distance 0.05 even the tight topics break apart into singletons and pairs
    assert len(find_topics(VECTORS, TEXTS, distance=0.002)) == 0
    # at 1.5 (anything with a positive mean similarity... and more) all six are one topic
    assert [len(t.members) for t in find_topics(VECTORS, TEXTS, distance=1.5)] == [6]


def test_two_or_no_tickets() -> None:
    assert find_topics(VECTORS[:1], TEXTS[:1]) == []
    assert [sorted(t.members) for t in find_topics(VECTORS[:2], TEXTS[:2])] == [[0, 1]]


def test_c_tf_idf_by_hand() -> None:
    # classes "alpha alpha beta" | "beta gamma", background "gamma"; terms and two-word phrases:
    # class 0 has 5 (alpha x2, beta, "alpha alpha", "alpha beta"), class 1 3, background 1:
    # A = 3. Class 0: alpha 2/5 * log(1 + 3/2) = .367, beta 1/5 * log(1 + 3/2) = .183, the
    # phrases (seen once) are left out. Class 1: beta and gamma 1/3 * log(1 + 3/2) = .305
    # each (a tie: vocabulary order), "beta gamma" 1/3 * log(1 + 3/1) = .462 but seen once.
    terms = class_terms([["alpha alpha beta"], ["beta gamma"]], ["gamma"], n_terms=2)
    assert terms == [["alpha", "beta"], ["beta", "gamma"]]
    # gamma, common to class 1 and the background, ranks below a word of class 1 alone
    assert class_terms([["delta gamma"]], ["gamma"], n_terms=2) == [["delta", "gamma"]]


def test_phrases_seen_once_are_left_out_and_words_not_repeated() -> None:
    terms = class_terms([["expense report", "expense report stuck", "other words"]], [], 4)
    assert terms == [["expense report", "stuck", "words"]]


def test_large_inputs_go_through_micro_clusters(monkeypatch: object) -> None:
    import pytest

    mp = pytest.MonkeyPatch()
    mp.setattr(clusters, "DIRECT_MAX", 20)
    mp.setattr(clusters, "MICRO", 8)
    try:
        rng = np.random.default_rng(0)
        centres = np.eye(4, dtype=np.float32)
        vecs = np.concatenate([c + 0.05 * rng.standard_normal((15, 4)) for c in centres])
        vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
        texts = [f"topic{i // 15}" for i in range(60)]
        topics = find_topics(vecs, texts)
        assert sorted(sorted(t.members) for t in topics) == [
            list(range(k * 15, k * 15 + 15)) for k in range(4)]
    finally:
        mp.undo()


def test_silhouette() -> None:
    topics = find_topics(VECTORS, TEXTS)
    score = silhouette(VECTORS, topics)
    assert score is not None and 0.9 < score <= 1.0
    assert silhouette(VECTORS, topics[:1]) is None
