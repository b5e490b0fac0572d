"""``kb eval-routing``: the router against a TF-IDF + linear SVM baseline on held-out tickets.

A labelled CSV (``ticket_id,text,category`` and optionally ``group``) is split once, 80/20,
stratified by category with a fixed seed; both models are fitted on the 80% only (the router
picks its threshold by cross-validation inside it) and reported on the 20%.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.metrics import precision_recall_fscore_support as prfs
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from core.errors import KbError
from tickets.routing import Router, train_router

REQUIRED = ("ticket_id", "text", "category")
#: shares of tickets kept (most confident first) for the coverage-accuracy curve
COVERAGES = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5)


@dataclass(frozen=True)
class LabelledTicket:
    id: str
    text: str
    category: str
    group: str | None = None


def read_labelled(path: Path) -> list[LabelledTicket]:
    """The tickets of a labelled CSV; KbError naming what is missing."""
    if not path.is_file():
        raise KbError(f"{path}: no such file")
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise KbError(f"{path}: missing column(s) {', '.join(missing)} (the header must "
                          "name ticket_id,text,category and optionally group)")
        reader.fieldnames = header
        rows = [LabelledTicket(r["ticket_id"].strip(), r["text"] or "", r["category"].strip(),
                               (r.get("group") or "").strip() or None)
                for r in reader if (r.get("category") or "").strip()]
    if len(rows) < 20 or len({r.category for r in rows}) < 2:
        raise KbError(f"{path}: {len(rows)} labelled tickets; routing needs at least 20 in "
                      "at least 2 categories")
    return rows


def split(rows: Sequence[LabelledTicket]) -> tuple[list[LabelledTicket], list[LabelledTicket]]:
    """The fixed 80/20 split, stratified by category (categories with one ticket go to
    training)."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.category] = counts.get(r.category, 0) + 1
    single = [r for r in rows if counts[r.category] < 2]
    rest = [r for r in rows if counts[r.category] >= 2]
    train, test = train_test_split(rest, test_size=0.2, random_state=0,
                                   stratify=[r.category for r in rest])
    return [*train, *single], list(test)


def fit_baseline(texts: Sequence[str], labels: Sequence[str]) -> tuple[TfidfVectorizer,
                                                                       LinearSVC]:
    """The published baseline: word 1-2 gram TF-IDF, sublinear tf, a default linear SVM."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    return vectorizer, LinearSVC(random_state=0).fit(vectorizer.fit_transform(texts), labels)


def scores(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str],
           ) -> dict[str, Any]:
    """Accuracy, macro F1, per-class precision/recall/F1 and the confusion matrix (rows: the
    true category, columns: the predicted one, in ``labels`` order)."""
    p, r, f, n = prfs(truth, predicted, labels=list(labels), zero_division=0)
    return {"accuracy": round(float(accuracy_score(truth, predicted)), 4),
            "macro_f1": round(float(f1_score(truth, predicted, labels=list(labels),
                                             average="macro", zero_division=0)), 4),
            "per_class": {label: {"precision": round(float(p[i]), 4),
                                  "recall": round(float(r[i]), 4),
                                  "f1": round(float(f[i]), 4), "support": int(n[i])}
                          for i, label in enumerate(labels)},
            "confusion": confusion_matrix(truth, predicted, labels=list(labels)).tolist()}


def coverage_curve(correct: np.ndarray, confidence: np.ndarray,
                   coverages: Sequence[float] = COVERAGES) -> list[dict[str, float]]:
    """For each share of tickets kept (the most confident first): the confidence threshold
    that keeps it and the accuracy on the kept tickets."""
    order = np.argsort(-confidence, kind="stable")
    out = []
    for share in coverages:
        n = max(1, int(round(share * len(order))))
        kept = order[:n]
        out.append({"coverage": round(n / len(order), 4),
                    "threshold": round(float(confidence[kept[-1]]), 4),
                    "accuracy": round(float(correct[kept].mean()), 4)})
    return out


def at_threshold(correct: np.ndarray, confidence: np.ndarray, threshold: float,
                 ) -> dict[str, float]:
    """Coverage and accuracy of the tickets at or above the router's own threshold."""
    kept = confidence >= threshold
    return {"threshold": round(threshold, 4), "coverage": round(float(kept.mean()), 4),
            "accuracy": round(float(correct[kept].mean()) if kept.any() else 0.0, 4)}


def evaluate_routing(rows: Sequence[LabelledTicket]) -> dict[str, Any]:
    """Fit both models on the 80% part and report them on the 20% part."""
    return evaluate(rows)[0]


def evaluate(rows: Sequence[LabelledTicket]) -> tuple[dict[str, Any], Router]:
    """:func:`evaluate_routing`'s report and the router it trained (for benchmarks)."""
    train, test = split(rows)
    labels = sorted({r.category for r in rows})
    truth = [r.category for r in test]
    started = time.perf_counter()
    groups = [r.group for r in train] if any(r.group for r in train) else None
    router = train_router([r.text for r in train], [r.category for r in train], groups,
                          [r.id for r in train])
    router_seconds = time.perf_counter() - started
    started = time.perf_counter()
    vectorizer, svm = fit_baseline([r.text for r in train], [r.category for r in train])
    baseline_seconds = time.perf_counter() - started
    baseline = svm.predict(vectorizer.transform([r.text for r in test])).tolist()
    return {"tickets": len(rows), "train": len(train), "test": len(test), "labels": labels,
            "router": router_report(router, test, labels, router_seconds),
            "baseline": {**scores(truth, baseline, labels),
                         "train_seconds": round(baseline_seconds, 2),
                         "model": "TF-IDF word 1-2 grams (sublinear tf) + LinearSVC(C=1)"},
            }, router


def router_report(router: Router, test: Sequence[LabelledTicket], labels: Sequence[str],
                  seconds: float) -> dict[str, Any]:
    probs = router.probabilities([r.text for r in test])
    names = router.category.labels
    predicted = [names[i] for i in probs.argmax(axis=1)]
    confidence = probs.max(axis=1)
    correct = np.array([p == r.category for p, r in zip(predicted, test, strict=True)])
    out = {**scores([r.category for r in test], predicted, labels),
           "train_seconds": round(seconds, 2), "model": describe(router),
           "coverage_curve": coverage_curve(correct, confidence),
           "at_stored_threshold": at_threshold(correct, confidence, router.threshold),
           "cv_accuracy": router.info.get("cv_accuracy")}
    if router.group is not None and any(r.group for r in test):
        gprobs = router.group.probabilities(router.matrices([r.text for r in test]))
        gpred = [router.group.labels[i] for i in gprobs.argmax(axis=1)]
        pairs = [(p, r.group) for p, r in zip(gpred, test, strict=True) if r.group]
        out["group_accuracy"] = round(float(np.mean([p == g for p, g in pairs])), 4)
    return out


def describe(router: Router) -> str:
    views = ", ".join(f"{s.name} {s.analyzer} {s.ngram[0]}-{s.ngram[1]} grams (C={s.c})"
                      for s in router.specs)
    return f"TF-IDF views [{views}] -> LinearSVC each -> logistic stacker on out-of-fold margins"
