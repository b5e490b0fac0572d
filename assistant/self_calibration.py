"""Label-free calibration of the confidence and the abstention threshold for one KB.

The shipped calibration (``assistant/calibration.json``) was fitted on kb's own question sets;
its threshold does not transfer to other KBs (0.62 there, 0.13 on a KB of IBM technotes). Here
the KB calibrates itself: :mod:`assistant.pseudo_questions` writes questions from its own
articles; each is asked twice, once as is (answerable) and once with its article held out of the
index (an unanswerable near-miss: the closest *other* article answers); a logistic confidence
is fitted on the top cosine of the two (the one feature whose ranking of answerable vs
unanswerable questions held on question sets kb was never fitted on: adding margins or word
coverage fitted the pseudo-questions better and real questions worse). The threshold is set on
the near-misses, abstaining on ``NEAR_MISS_ABSTAIN`` of them: questions copied from an article are
easier than real ones (a threshold that answers 95% of them answers far fewer real questions),
while an article held out leaves a question about as close to its neighbours as a real
question the KB does not cover. The result is written beside the index
(``indexes/index-N/calibration.json``) and used instead of the shipped one; the shipped re-ranker
weights are kept (they are the prior: ranking needs labels, which a new KB does not have).

    report = calibrate(assistant, as_of=date.today())       # fits and writes
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from assistant.calibration import Calibration
from assistant.pseudo_questions import PseudoQuestion, pseudo_questions
from assistant.retrieve import confidence_features, confidence_of
from assistant.service import Assistant, run_retrieval
from assistant.types import Retrieval, Viewer
from core.errors import KbError
from core.store import catalog

#: what the per-KB confidence weighs (chosen on kb_samples and the dev set, see the README)
FEATURES = ("dense",)
L2 = 1.0
#: the share of held-out near-misses the threshold abstains on (chosen likewise)
NEAR_MISS_ABSTAIN = 0.5
MIN_QUESTIONS = 20


@dataclass(frozen=True)
class Sample:
    question: PseudoQuestion
    answerable: dict[str, float] | None  # confidence features, None when nothing was found
    held_out: dict[str, float] | None
    found_first: bool


def collect(assistant: Assistant, questions: Sequence[PseudoQuestion], as_of: date,
            progress: Callable[[int, int], None] | None = None) -> list[Sample]:
    """Each question asked as is and with its article held out, as an admin (every group)."""
    viewer = Viewer(all_groups=True)
    out = []
    for number, q in enumerate(questions, start=1):
        asked = run_retrieval(assistant, q.question, viewer, as_of, k=10)
        held = run_retrieval(assistant, q.question, viewer, as_of, k=10,
                             held_out=frozenset({q.article_id}))
        out.append(Sample(q, _features(asked), _features(held),
                          bool(asked.articles) and asked.articles[0].article_id == q.article_id))
        if progress:
            progress(number, len(questions))
    return out


def _features(retrieval: Retrieval) -> dict[str, float] | None:
    return confidence_features(list(retrieval.articles)) if retrieval.articles else None


def fit(samples: Sequence[Sample], near_miss_abstain: float = NEAR_MISS_ABSTAIN,
        l2: float = L2) -> tuple[dict[str, float], float, dict[str, float]]:
    """The confidence weights, the threshold and what they do on the samples."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rows = [(s.answerable, 1) for s in samples if s.answerable] + \
           [(s.held_out, 0) for s in samples if s.held_out]
    labels = {y for _, y in rows}
    if len(rows) < 2 * MIN_QUESTIONS or labels != {0, 1}:
        raise KbError(f"too few pseudo-questions to calibrate ({len(samples)}; at least "
                      f"{MIN_QUESTIONS} articles with a title, description or symptom needed)")
    x = np.array([[f[n] for n in FEATURES] for f, _ in rows])
    y = np.array([label for _, label in rows])
    model = LogisticRegression(C=1.0 / l2, max_iter=5000).fit(x, y)
    weights = {**{n: round(float(w), 4) for n, w in zip(FEATURES, model.coef_[0], strict=True)},
               "bias": round(float(model.intercept_[0]), 4)}
    pos = [confidence_of(s.answerable, weights) for s in samples if s.answerable]
    neg = [confidence_of(s.held_out, weights) for s in samples if s.held_out]
    threshold = round(float(np.percentile(neg, 100 * near_miss_abstain)), 4)
    measured = {"answerable": len(pos), "held_out": len(neg),
                "auroc": round(float(roc_auc_score([1] * len(pos) + [0] * len(neg), pos + neg)),
                               4),
                "answer_rate": round(float(np.mean([c >= threshold for c in pos])), 4),
                "abstention_rate": round(float(np.mean([c < threshold for c in neg])), 4),
                "found_first": round(float(np.mean([s.found_first for s in samples])), 4)}
    return weights, threshold, measured


def calibrate(assistant: Assistant, as_of: date, prior: Calibration, out: Path,
              limit: int = 300, seed: int = 7, command: str = "",
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Fit this KB's confidence and threshold on its own pseudo-questions and write them to
    ``out`` with the prior's re-ranker weights; returns what was written."""
    questions = pseudo_questions(catalog.iter_articles(assistant.index.conn), limit, seed)
    samples = collect(assistant, questions, as_of, progress)
    weights, threshold, measured = fit(samples)
    by_source: dict[str, int] = {}
    for q in questions:
        by_source[q.source] = by_source.get(q.source, 0) + 1
    result = {"weights": prior.weights, "confidence": weights, "threshold": threshold,
              "prior": prior.source,
              "fitted_on": f"{len(questions)} pseudo-questions from this KB ({by_source}), "
                           "each also asked with its article held out; no labels",
              "expected": measured, "fingerprint": assistant.index.fingerprint,
              "as_of": as_of.isoformat(), "command": command}
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)
    return result
