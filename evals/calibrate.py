"""Fit the re-ranker weights and the confidence score on eval datasets.

The re-ranker is a linear score over article features (:func:`assistant.retrieve.article_features`),
fitted as pairwise logistic regression (gold article vs every other candidate). The confidence
is a logistic regression of "answerable" on the top article's features and its margin. Both are
written to ``assistant/calibration.json``, which retrieval loads by default, with the command
and the datasets they came from.

Every feature weight is kept >= 0 (a monotone prior: more agreement between the question and
an article never lowers its rank or the confidence). Unconstrained, the fit on kb's own
questions gave title-word overlap a negative rank weight and the BM25 score a negative
confidence weight, which held no further than those questions: on the held-out honest set
the constrained confidence ranks as well (AUROC 0.683 vs 0.678), and titles asked as questions
(the redirect set) are no longer pushed below their siblings.

    python -m evals.calibrate --data-dir .kb-ms evals/datasets/ms_support_dev.jsonl ...
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see kb_cli/main.py

import argparse
import json
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

from assistant.calibration import SHIPPED
from assistant.retrieve import confidence_features, rank_score
from assistant.service import open_assistant, run_retrieval
from assistant.types import Viewer
from evals.dataset import load_dataset
from evals.metrics import auroc, mean, percentile
from ingest.embed import SentenceTransformerEmbedder

RANK_FEATURES = ["dense", "dense2", "lexical", "lex_raw", "title", "coverage", "exact",
                 "title_cos"]
CONF_FEATURES = ["dense", "lexical", "lex_raw", "title", "coverage", "exact", "margin"]
OUT = SHIPPED


def _logistic(x: np.ndarray, y: np.ndarray, l2: float, bias: bool) -> np.ndarray:
    """Weights >= 0 of an L2-regularised logistic regression (bias last when fitted, free):
    minimises sum(log(1 + exp(-s * z))) + l2 / 2 * |w|^2, s = +-1 the label, z = x.w + b
    (scikit-learn's objective with C = 1 / l2, under bounds)."""
    from scipy.optimize import minimize

    sign = np.where(y > 0, 1.0, -1.0)
    n = x.shape[1]

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ p[:n] + (p[n] if bias else 0.0)
        m = sign * z
        grad_z = -sign / (1.0 + np.exp(np.clip(m, -50, 50)))
        grad = np.r_[x.T @ grad_z + l2 * p[:n], grad_z.sum()] if bias else \
            x.T @ grad_z + l2 * p[:n]
        return float(np.logaddexp(0.0, -m).sum() + l2 / 2 * p[:n] @ p[:n]), grad

    start = np.zeros(n + int(bias))
    bounds = [(0.0, None)] * n + [(None, None)] * int(bias)
    return minimize(loss, start, jac=True, bounds=bounds, method="L-BFGS-B",
                    options={"maxiter": 5000}).x


def collect(assistant, questions, as_of):  # noqa: ANN001, ANN201
    params = replace(assistant.params, candidates=40)
    out = []
    for q in questions:
        r = run_retrieval(assistant, q.question, Viewer(), as_of, k=30, params=params)
        out.append((q, [(a.article_id, a.features) for a in r.articles]))
    return out


def fit_rank(samples, l2: float) -> dict[str, float]:  # noqa: ANN001
    diffs = []
    for q, arts in samples:
        gold = [f for a, f in arts if a in q.gold_articles]
        if not q.answerable or not gold:
            continue
        g = np.array([gold[0][n] for n in RANK_FEATURES])
        for a, f in arts[:20]:
            if a not in q.gold_articles:
                diffs.append(g - np.array([f[n] for n in RANK_FEATURES]))
    x = np.array(diffs)
    x = np.vstack([x, -x])
    y = np.r_[np.ones(len(diffs)), np.zeros(len(diffs))]
    w = _logistic(x, y, l2, bias=False)
    return dict(zip(RANK_FEATURES, np.round(w, 4).tolist(), strict=True))


def rerank(samples, weights):  # noqa: ANN001, ANN201
    from assistant.types import ArticleHit

    out = []
    for q, arts in samples:
        ranked = sorted(((rank_score(f, weights), a, f) for a, f in arts), reverse=True)
        hits = [ArticleHit(a, "", s, (), f) for s, a, f in ranked]
        out.append((q, hits))
    return out


def fit_confidence(ranked, l2: float) -> dict[str, float]:  # noqa: ANN001
    x, y = [], []
    for q, hits in ranked:
        if not hits:
            continue
        f = confidence_features(hits)
        x.append([f[n] for n in CONF_FEATURES])
        y.append(1.0 if q.answerable else 0.0)
    w = _logistic(np.array(x), np.array(y), l2, bias=True)
    return {**dict(zip(CONF_FEATURES, np.round(w[:-1], 4).tolist(), strict=True)),
            "bias": round(float(w[-1]), 4)}


def measure(ranked, conf_w) -> dict[str, float]:  # noqa: ANN001
    r1, mrr, pos, neg = [], [], [], []
    for q, hits in ranked:
        ids = [h.article_id for h in hits]
        conf = 1 / (1 + np.exp(-rank_score(confidence_features(hits), conf_w))) if hits else 0
        if q.answerable:
            rank = next((i for i, a in enumerate(ids) if a in q.gold_articles), None)
            r1.append(1.0 if rank == 0 else 0.0)
            mrr.append(1 / (rank + 1) if rank is not None and rank < 10 else 0.0)
            pos.append(float(conf))
        else:
            neg.append(float(conf))
    thr = percentile(pos, 5)
    return {"recall@1": round(mean(r1), 4), "mrr@10": round(mean(mrr), 4),
            "auroc": round(auroc(pos, neg), 4), "threshold95": round(thr, 4),
            "abstain_at_95": round(mean([1.0 if c < thr else 0.0 for c in neg]), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("datasets", nargs="+",
                        help="DATASET.jsonl or DATASET.jsonl=DATA_DIR (default --data-dir)")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--weight", action="append", default=[],
                        help="NAME=W: weight of a dataset's questions in the fits (default 1)")
    parser.add_argument("--as-of", default=date.today().isoformat())
    parser.add_argument("--l2", type=float, default=0.01)
    parser.add_argument("--write", action="store_true", help="write assistant/calibration.json")
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder()
    as_of = date.fromisoformat(args.as_of)
    weights_by_set = {k: float(v) for k, v in (w.split("=", 1) for w in args.weight)}
    samples = []
    per_set = {}
    for spec in args.datasets:
        name, _, data_dir = spec.partition("=")
        path = Path(name)
        assistant = open_assistant(Path(data_dir) if data_dir else args.data_dir, embedder)
        got = collect(assistant, load_dataset(path), as_of)
        per_set[path.name] = got
        samples += got * int(weights_by_set.get(path.name, 1))
    weights = fit_rank(samples, args.l2)
    conf = fit_confidence(rerank(samples, weights), args.l2)
    report = {name: measure(rerank(s, weights), conf) for name, s in per_set.items()}
    thr = percentile([1 / (1 + np.exp(-rank_score(confidence_features(h), conf)))
                      for q, h in rerank(samples, weights) if q.answerable and h], 5)
    result = {"weights": weights, "confidence": conf, "threshold": round(float(thr), 4),
              "fitted_on": list(args.datasets), "measured": report,
              "command": "python -m evals.calibrate " + " ".join(sys.argv[1:])}
    print(json.dumps(result, indent=2))
    if args.write:
        OUT.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
