"""The systems an eval compares: kb itself and the baselines a team would otherwise build.

Each system maps a question to a :class:`Run`: ranked article ids, a confidence, and (for
systems that answer) the answer with its cited passages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from assistant.answer import extractive_answer
from assistant.service import Assistant, run_retrieval
from assistant.types import Viewer
from ingest.lexical import tokenize


@dataclass(frozen=True)
class Run:
    ranked: list[str]
    confidence: float
    answered: bool | None = None
    answer: str = ""
    cited_articles: list[str] = field(default_factory=list)
    cited_passages: dict[int, str] = field(default_factory=dict)


System = Callable[[str], Run]


def kb_system(assistant: Assistant, as_of: date, viewer: Viewer | None = None) -> System:
    viewer = viewer or Viewer()

    def run(question: str) -> Run:
        retrieval = run_retrieval(assistant, question, viewer, as_of, k=10)
        answer = extractive_answer(retrieval, assistant.index.conn, assistant.threshold)
        return Run([a.article_id for a in retrieval.articles], retrieval.confidence,
                   answer.answered, answer.answer if answer.answered else "",
                   [c.article_id for c in answer.citations],
                   {c.n: c.text for c in answer.citations})

    return run


def _rank_articles(assistant: Assistant, chunk_scores: dict[str, float]) -> tuple[list[str], float]:
    best: dict[str, float] = {}
    for cid, score in chunk_scores.items():
        article = assistant.index.chunk_rows[cid][0]
        best[article] = max(best.get(article, -1e9), score)
    ranked = sorted(best, key=lambda a: best[a], reverse=True)[:10]
    return ranked, (best[ranked[0]] if ranked else 0.0)


def bm25_system(assistant: Assistant, as_of: date) -> System:
    index = assistant.index
    mask = index.visible_articles(frozenset(), as_of)

    def run(question: str) -> Run:
        tokens = tokenize(question)
        if index.bm25 is None or not tokens:
            return Run([], 0.0)
        scores = np.asarray(index.bm25.get_scores(tokens), dtype=np.float32)
        scores[~mask[index.chunk_article]] = 0.0
        top = np.argsort(-scores)[:100]
        ranked, conf = _rank_articles(assistant, {index.chunk_ids[i]: float(scores[i])
                                                  for i in top if scores[i] > 0})
        return Run(ranked, conf)

    return run


def dense_system(assistant: Assistant, as_of: date) -> System:
    """Dense only: the same vectors and permission mask as kb, best chunk per article."""
    index = assistant.index
    mask = index.visible_articles(frozenset(), as_of)

    def run(question: str) -> Run:
        q_vec = np.asarray(assistant.embedder.embed([question])[0], dtype=np.float32)
        scores = index.vectors @ q_vec
        scores[~mask[index.chunk_article]] = -np.inf
        top = np.argsort(-scores)[:100]
        ranked, conf = _rank_articles(assistant, {index.chunk_ids[i]: float(scores[i])
                                                  for i in top if np.isfinite(scores[i])})
        return Run(ranked, conf)

    return run
