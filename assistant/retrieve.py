"""Turn a question into ranked articles and their best chunks (:class:`Retrieval`).

Hybrid: dense search in Chroma and BM25 over chunks, both restricted *before ranking* to the
articles the viewer may see (permission groups, published, not expired, optional product or
category). Candidates from both are scored on the same features (cosine, normalised BM25,
title and exact-token matches), aggregated per article, re-ranked by a weighted sum, and given
a confidence of their own (a logistic score fitted on answerable vs unanswerable questions).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np

from assistant.calibration import Calibration
from assistant.index import SearchIndex
from assistant.types import ArticleHit, Hit, Retrieval, Viewer
from ingest.embed import Embedder
from ingest.lexical import tokenize

EXACT = re.compile(r"^(?=.*\d)[a-z0-9]+(?:[.\-_][a-z0-9]+)*$")

@dataclass(frozen=True)
class RetrievalParams:
    """How candidates are scored: weights and confidence from a :class:`Calibration`."""

    weights: dict[str, float]
    confidence: dict[str, float]
    candidates: int = 40
    #: besides the top ``candidates`` chunks, the best chunk of each of this many articles:
    #: the top chunks crowd into a few long articles, which kept a paraphrased question's
    #: article out of the candidates (honest set: 0.59 of paraphrases had it, 0.85 now)
    candidate_articles: int = 40
    stale_penalty: float = 0.97

    @classmethod
    def from_calibration(cls, calibration: Calibration) -> RetrievalParams:
        return cls(dict(calibration.weights), dict(calibration.confidence))


StaleCheck = Callable[[str], tuple[bool, str | None]]


def _dense(index: SearchIndex, q_vec: np.ndarray, mask: np.ndarray, n: int,
           articles: int = 0) -> tuple[np.ndarray, dict[str, float]]:
    """Cosine of every chunk (masked ones at -inf), the top ``n`` the viewer may see and the
    best chunk of each of the top ``articles`` articles."""
    if not len(index.chunk_ids):
        return np.zeros(0, dtype=np.float32), {}
    scores = index.vectors @ q_vec
    scores[~mask[index.chunk_article]] = -np.inf
    top = np.argpartition(-scores, min(n, len(scores) - 1))[:n]
    rows = {int(i) for i in top} | set(index.best_chunk_per_article(scores, articles)
                                       if articles else ())
    return scores, {index.chunk_ids[i]: float(scores[i]) for i in rows
                    if np.isfinite(scores[i])}


def _lexical(index: SearchIndex, tokens: list[str], mask: np.ndarray, n: int,
             ) -> dict[str, float]:
    if index.bm25 is None or not tokens:
        return {}
    scores = np.asarray(index.bm25.get_scores(tokens), dtype=np.float32)
    scores[~mask[index.chunk_article]] = 0.0
    top = np.argpartition(-scores, min(n, len(scores) - 1))[:n]
    return {index.chunk_ids[i]: float(scores[i]) for i in top if scores[i] > 0}


def _overlap(q_tokens: set[str], text: str) -> float:
    if not q_tokens:
        return 0.0
    return len(q_tokens & set(tokenize(text))) / len(q_tokens)


def article_features(q_set: set[str], exact: set[str], title: str, hits: list[Hit],
                     raw_top: float, words: set[str] | frozenset[str] | None = None,
                     title_cos: float = 0.0) -> dict[str, float]:
    """What the re-ranker and the confidence score look at for one article.

    ``words``: the tokens of the title and the best three chunks (computed when not given);
    ``title_cos``: the cosine of the question with the title's own embedding.
    """
    dens = sorted((h.dense for h in hits), reverse=True)
    if words is None:
        words = set(tokenize(title + " " + " ".join(h.text for h in hits[:3])))
    lex = max(h.lexical for h in hits)
    return {
        "dense": dens[0], "dense2": dens[1] if len(dens) > 1 else 0.0, "lexical": lex,
        "lex_raw": lex * raw_top,
        "title": _overlap(q_set, title),
        "coverage": len(q_set & words) / len(q_set) if q_set else 0.0,
        "exact": len(exact & words) / len(exact) if exact else 0.0,
        "title_cos": title_cos,
    }


def rank_score(features: dict[str, float], weights: dict[str, float]) -> float:
    return weights.get("bias", 0.0) + sum(weights.get(n, 0.0) * v for n, v in features.items())


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


def retrieve(index: SearchIndex, embedder: Embedder, question: str, viewer: Viewer,
             as_of: date, k: int, params: RetrievalParams,
             stale_check: StaleCheck | None = None,
             held_out: frozenset[str] = frozenset()) -> Retrieval:
    """The top ``k`` articles for the question that this viewer may see, best first;
    ``held_out`` articles are left out as if they were not in the index (calibration)."""
    mask = index.visible_articles(viewer.groups, as_of, viewer.product, viewer.category,
                                  viewer.all_groups)
    if held_out:
        mask = mask.copy()
        for article_id in held_out & index.article_row.keys():
            mask[index.article_row[article_id]] = False
    if not mask.any():
        return Retrieval(question, (), 0.0)
    tokens = tokenize(question)
    q_vec = np.asarray(embedder.embed([question])[0], dtype=np.float32)
    cosines, dense = _dense(index, q_vec, mask, params.candidates, params.candidate_articles)
    lexical = _lexical(index, tokens, mask, params.candidates)
    dense.update({cid: float(cosines[index.chunk_row[cid]]) for cid in lexical
                  if cid not in dense})
    top_lex = max(lexical.values(), default=0.0) or 1.0
    q_set = set(tokens)
    exact = {t for t in q_set if EXACT.match(t) and len(t) >= 3}
    per_article: dict[str, list[Hit]] = defaultdict(list)
    for cid, cos in dense.items():
        article_id, position, section, anchor, text = index.chunk_rows[cid]
        facts = index.articles[index.article_row[article_id]]
        lex = lexical.get(cid, 0.0) / top_lex
        per_article[article_id].append(Hit(
            cid, article_id, facts.title, section, anchor, text, position,
            score=cos + params.weights["lexical"] * lex, dense=cos, lexical=lex, url=facts.url,
            last_reviewed=facts.last_reviewed))
    ranked: list[ArticleHit] = []
    raw_top = max(lexical.values(), default=0.0) / (1.0 + len(q_set))
    titles = index.title_matrix(embedder)
    for article_id, hits in per_article.items():
        hits.sort(key=lambda h: h.score, reverse=True)
        row = index.article_row[article_id]
        facts = index.articles[row]
        words = index.words(facts.title, [h.chunk_id for h in hits[:3]])
        feats = article_features(q_set, exact, facts.title, hits, raw_top, words,
                                 float(titles[row] @ q_vec))
        ranked.append(ArticleHit(article_id, facts.title, rank_score(feats, params.weights),
                                 tuple(hits), feats))
    ranked.sort(key=lambda a: a.score, reverse=True)
    if stale_check:
        ranked = _mark_stale(ranked, max(2 * k, 10), stale_check, params.stale_penalty)
    return Retrieval(question, tuple(ranked[:k]), confidence(ranked, params))


def _mark_stale(ranked: list[ArticleHit], head: int, stale_check: StaleCheck,
                penalty: float) -> list[ArticleHit]:
    """Penalise and mark stale articles among the leaders (only they can reach the top k)."""
    top = []
    for art in ranked[:head]:
        stale, reason = stale_check(art.article_id)
        if stale:
            # lower whatever the sign: scaling a negative score by 0.97 would raise it
            score = art.score - abs(art.score) * (1.0 - penalty)
            hits = tuple(Hit(**{**h.__dict__, "stale": True, "stale_reason": reason})
                         for h in art.hits)
            art = ArticleHit(art.article_id, art.title, score, hits, art.features)
        top.append(art)
    top.sort(key=lambda a: a.score, reverse=True)
    return top + ranked[head:]


def confidence(ranked: list[ArticleHit], params: RetrievalParams) -> float:
    """How sure we are that the top article answers the question (0..1)."""
    if not ranked:
        return 0.0
    return round(confidence_of(confidence_features(ranked), params.confidence), 4)


def confidence_of(features: dict[str, float], weights: dict[str, float]) -> float:
    """The logistic confidence that ``weights`` give these features (0..1)."""
    return _sigmoid(rank_score(features, weights))


def confidence_features(ranked: list[ArticleHit]) -> dict[str, float]:
    """The top article's features plus its margin over the second (re-ranker score) and its
    cosine's margin over the best other article's (``dense_margin``)."""
    top = ranked[0]
    margin = top.score - ranked[1].score if len(ranked) > 1 else top.score
    others = max((a.features["dense"] for a in ranked[1:]), default=0.0)
    return {**top.features, "margin": margin, "dense_margin": top.features["dense"] - others}


__all__ = ["RetrievalParams", "confidence", "retrieve"]
