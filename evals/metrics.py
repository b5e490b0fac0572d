"""Evaluation metrics as pure functions: per-question values and means over a stated set.

Retrieval metrics are article-level: ``ranked`` is the list of article ids in rank order,
``gold`` the set of relevant ids (binary relevance).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence


def recall_at(ranked: Sequence[str], gold: set[str], k: int) -> float:
    """Share of gold articles found in the top k (1.0 when k covers all of them)."""
    if not gold:
        return 0.0
    return len(gold & set(ranked[:k])) / len(gold)


def hit_at(ranked: Sequence[str], gold: set[str], k: int) -> float:
    """1.0 if any gold article is in the top k."""
    return 1.0 if gold & set(ranked[:k]) else 0.0


def mrr_at(ranked: Sequence[str], gold: set[str], k: int = 10) -> float:
    for rank, article in enumerate(ranked[:k], start=1):
        if article in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: Sequence[str], gold: set[str], k: int = 10) -> float:
    dcg = sum(1.0 / math.log2(rank + 1) for rank, a in enumerate(ranked[:k], start=1)
              if a in gold)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold), k) + 1))
    return dcg / ideal if ideal else 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), like numpy's default."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return 0.0
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[`*_]", "", text.lower())).strip()


def key_fact_recall(answer: str, key_facts: Sequence[str]) -> float:
    """Share of key facts present in the answer (case and markup insensitive)."""
    if not key_facts:
        return 0.0
    text = _norm(answer)
    return sum(1 for fact in key_facts if _norm(fact) in text) / len(key_facts)


def first_fact_line(lines: Sequence[str], key_facts: Sequence[str]) -> int | None:
    """1-based number of the first answer line that holds a key fact; None when none does."""
    facts = [_norm(f) for f in key_facts]
    for number, line in enumerate(lines, start=1):
        text = _norm(line)
        if any(f in text for f in facts):
            return number
    return None


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def token_f1(answer: str, reference: str) -> float:
    """SQuAD-style token F1 between an answer and a reference answer."""
    a, r = _tokens(answer), _tokens(reference)
    if not a or not r:
        return 0.0
    common: dict[str, int] = {}
    counts_r: dict[str, int] = {}
    for t in r:
        counts_r[t] = counts_r.get(t, 0) + 1
    overlap = 0
    for t in a:
        if counts_r.get(t, 0) > common.get(t, 0):
            common[t] = common.get(t, 0) + 1
            overlap += 1
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(a), overlap / len(r)
    return 2 * precision * recall / (precision + recall)


def citation_precision_recall(cited: Sequence[str], gold: set[str]) -> tuple[float, float]:
    """Precision: share of cited articles that are gold; recall: share of gold cited."""
    cited_set = set(cited)
    if not cited_set:
        return 0.0, 0.0
    hit = len(cited_set & gold)
    return hit / len(cited_set), (hit / len(gold) if gold else 0.0)


def supported(sentence: str, passage: str, threshold: float = 0.6) -> bool:
    """A sentence is supported when most of its content words occur in the cited passage."""
    words = [w for w in _tokens(sentence) if len(w) > 2]
    if not words:
        return True
    present = set(_tokens(passage))
    return sum(1 for w in words if w in present) / len(words) >= threshold


def groundedness(lines: Sequence[tuple[str, Sequence[str]]]) -> float:
    """Share of answer lines supported by at least one passage they cite.

    ``lines`` pairs each answer line (markers removed) with the texts of the passages it cites;
    a line citing nothing counts as unsupported.
    """
    if not lines:
        return 0.0
    ok = sum(1 for text, passages in lines if any(supported(text, p) for p in passages))
    return ok / len(lines)
