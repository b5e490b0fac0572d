"""The ``duplicate`` rule: pairs of articles that say the same thing.

An article's vector is the mean of its chunk embeddings (read back from Chroma, nothing is
re-embedded). Pairs whose cosine similarity reaches ``policy.duplicate_similarity`` are
candidates (top neighbours only, a numpy matrix product in blocks); a candidate is a duplicate
when the articles also share wording (Jaccard overlap of their sets of words at or above
``policy.duplicate_overlap``) and they are not about different identified things: titles that
name different codes or versions ("NDR 5.7.12" and "NDR 5.7.13", "Exchange 2013" and "Exchange
2016": one template about two subjects, not one article twice), titles that name different
CVE ids, KB numbers or bulletin ids, or advisories whose texts cite disjoint sets of CVE ids
(two bulletins from one template). A pair up to 0.05 less
similar still counts when it is a rewrite: the same words but few of the same word pairs.
Both articles get a flag naming the other. The defaults (0.90, 0.45) come from reading pairs
of the ms-support corpus; see README "Article quality flags".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.types import Article, Flag
from ingest.quality.policy import QualityPolicy

NEIGHBOURS = 10
SHINGLE_WORDS = 1
#: rewrites: similarity down to this much below the threshold, word pairs shared under this
#: fraction of the words shared (copies share phrases; a rewrite keeps the words, not the phrases)
REWRITE_MARGIN = 0.05
REWRITE_PHRASE_RATIO = 0.45
_CODE = re.compile(r"[a-z0-9][a-z0-9._]*")
_YEAR = re.compile(r"(19|20)\d\d")
#: identifiers compared as whole sets: titles naming different ones are different subjects
_EXACT_IDS = {"cve": re.compile(r"\bcve-\d{4}-\d{4,}\b"),
              "kb": re.compile(r"\bkb\s?\d{6,8}\b"),
              "bulletin": re.compile(r"\bms\d\d-\d{3}\b"),
              "advisory": re.compile(r"\b(?:adv|ghsa|rhsa|dsa|usn)-[\w-]*\d[\w-]*")}
_ISO_DATE = re.compile(r"\b(19|20)\d\d-\d\d-\d\d\b")
#: a year after one of these words is a date, not a version ("June 2022", "in 2023")
_DATE_WORDS = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "in", "since", "from", "until", "till", "before", "after", "of",
    "by", "during", "through", "to", "year", "fy", "early", "late", "mid", "spring", "summer",
    "autumn", "fall", "winter", "q1", "q2", "q3", "q4", "copyright", "c"})
_BLOCK_ROWS = 1024


@dataclass(frozen=True)
class DuplicatePair:
    first: str
    second: str
    similarity: float
    overlap: float
    containment: float
    kind: str = "copy"


def article_vectors(collection: Any, chunk_articles: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Mean chunk embedding per article (unit length), for the chunks the catalog lists."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    offset = 0
    while True:
        got = collection.get(include=["embeddings"], limit=5000, offset=offset)
        ids = got["ids"]
        embeddings = got["embeddings"]
        for chunk_id, vector in zip(ids, embeddings if embeddings is not None else [],
                                    strict=False):
            article_id = chunk_articles.get(chunk_id)
            if article_id is None:
                continue
            vec = np.asarray(vector, dtype=np.float32)
            sums[article_id] = sums[article_id] + vec if article_id in sums else vec.copy()
            counts[article_id] = counts.get(article_id, 0) + 1
        if len(ids) < 5000:
            break
        offset += 5000
    out = {}
    for article_id, total in sums.items():
        norm = float(np.linalg.norm(total))
        out[article_id] = total / norm if norm else total
    return out


def shingles(text: str, size: int = SHINGLE_WORDS) -> frozenset[str]:
    """Words (or word n-grams) of the text, lower-cased, letters and digits only."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    if len(words) < size:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i:i + size]) for i in range(len(words) - size + 1))


def overlap(a: frozenset[str], b: frozenset[str]) -> tuple[float, float]:
    """``(jaccard, containment)``; containment is shared / the smaller set."""
    if not a or not b:
        return 0.0, 0.0
    shared = len(a & b)
    return shared / len(a | b), shared / min(len(a), len(b))


def title_identifiers(title: str) -> dict[str, frozenset[str]]:
    """Identifiers a title names, by kind: ``cve``, ``kb``, ``bulletin`` and ``advisory`` ids
    (``CVE-2021-44228``, ``KB5005565``, ``MS16-065``), and ``code``: error codes, event ids
    and versions (``0x80070005``, ``809``, ``5.7.12``, ``8.0.7``, ``SP2``, ``R2``, and a year
    after a product name, ``Exchange 2016``; not a year in a date, ``June 2022``)."""
    text = _ISO_DATE.sub(" ", title.lower())
    found: dict[str, frozenset[str]] = {}
    for kind, pattern in _EXACT_IDS.items():
        found[kind] = frozenset(m.group(0).replace(" ", "") for m in pattern.finditer(text))
        text = pattern.sub(" ", text)
    words = _CODE.findall(text)
    codes = set()
    for i, word in enumerate(words):
        word = word.strip("._")
        if not any(c.isdigit() for c in word):
            continue
        if _YEAR.fullmatch(word) and (i == 0 or words[i - 1] in _DATE_WORDS
                                      or words[i - 1].isdigit()):
            continue
        codes.add(word)
    found["code"] = frozenset(codes)
    return found


def title_codes(title: str) -> frozenset[str]:
    """Every identifier in a title (see :func:`title_identifiers`), as one set."""
    return frozenset().union(*title_identifiers(title).values())


def different_subjects(title_a: str, title_b: str) -> bool:
    """The titles name different identifiers: a CVE, KB, bulletin or advisory id set that
    differs, or codes and versions of which neither title's set contains the other's."""
    a, b = title_identifiers(title_a), title_identifiers(title_b)
    if any(a[kind] and b[kind] and a[kind] != b[kind] for kind in _EXACT_IDS):
        return True
    all_a, all_b = title_codes(title_a), title_codes(title_b)
    return bool(all_a and all_b and not (all_a <= all_b or all_b <= all_a))


def cited_cves(text: str) -> frozenset[str]:
    return frozenset(m.group(0).upper() for m in _EXACT_IDS["cve"].finditer(text.lower()))


def different_identifiers(a: Article, b: Article) -> bool:
    """Two articles about different identified things: their titles name different
    identifiers, or both cite CVE ids and no CVE id is cited by both (two advisories)."""
    if different_subjects(a.title, b.title):
        return True
    cves_a, cves_b = cited_cves(a.text), cited_cves(b.text)
    return bool(cves_a and cves_b and not cves_a & cves_b)


def candidate_pairs(ids: Sequence[str], matrix: np.ndarray, threshold: float,
                    neighbours: int = NEIGHBOURS) -> list[tuple[str, str, float]]:
    """Pairs (i < j) among each row's top ``neighbours`` with cosine >= threshold."""
    found: dict[tuple[str, str], float] = {}
    count = len(ids)
    k = min(neighbours, count - 1)
    if k <= 0:
        return []
    for start in range(0, count, _BLOCK_ROWS):
        sims = matrix[start:start + _BLOCK_ROWS] @ matrix.T
        for row in range(sims.shape[0]):
            sims[row, start + row] = -1.0
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for row, cols in enumerate(top):
            for col in cols:
                score = float(sims[row, col])
                if score >= threshold:
                    a, b = sorted((ids[start + row], ids[int(col)]))
                    found[(a, b)] = score
    return [(a, b, s) for (a, b), s in sorted(found.items())]


def _is_rewrite(sim: float, words: float, phrases: float, policy: QualityPolicy) -> bool:
    """Same meaning, same words, different sentences: one article rewritten as another."""
    return (sim >= policy.duplicate_similarity - REWRITE_MARGIN
            and words >= policy.duplicate_overlap and phrases < REWRITE_PHRASE_RATIO * words)


def find_duplicates(articles: Sequence[Article], vectors: Mapping[str, np.ndarray],
                    policy: QualityPolicy) -> list[DuplicatePair]:
    """Copies (similarity and shared words above the policy's thresholds) and rewrites."""
    ids = [a.id for a in articles if a.id in vectors]
    if len(ids) < 2:
        return []
    matrix = np.vstack([vectors[i] for i in ids]).astype(np.float32)
    by_id = {a.id: a for a in articles}
    cache: dict[tuple[str, int], frozenset[str]] = {}

    def grams(article_id: str, size: int = 1) -> frozenset[str]:
        if (article_id, size) not in cache:
            cache[(article_id, size)] = shingles(by_id[article_id].text, size)
        return cache[(article_id, size)]

    pairs = []
    lowest = policy.duplicate_similarity - REWRITE_MARGIN
    for a, b, sim in candidate_pairs(ids, matrix, lowest):
        if different_identifiers(by_id[a], by_id[b]):
            continue
        jaccard, contained = overlap(grams(a), grams(b))
        if jaccard < policy.duplicate_overlap:
            continue
        if sim >= policy.duplicate_similarity:
            kind = "copy"
        elif _is_rewrite(sim, jaccard, overlap(grams(a, 2), grams(b, 2))[0], policy):
            kind = "rewrite"
        else:
            continue
        pairs.append(DuplicatePair(a, b, round(sim, 4), round(jaccard, 4), round(contained, 4),
                                   kind))
    return pairs


def duplicate_flags(pairs: Sequence[DuplicatePair], titles: Mapping[str, str]) -> list[Flag]:
    flags = []
    for pair in pairs:
        for this, other in ((pair.first, pair.second), (pair.second, pair.first)):
            what = "near-duplicate" if pair.kind == "copy" else "a rewrite"
            flags.append(Flag(this, "duplicate", "medium",
                              f"{what} of {other} ('{titles.get(other, other)}'): "
                              f"similarity {pair.similarity:.2f}, {pair.overlap:.0%} of words "
                              "shared; merge them or retire one",
                              {"key": other, "other": other, "similarity": pair.similarity,
                               "overlap": pair.overlap, "containment": pair.containment,
                               "match": pair.kind}))
    return flags

