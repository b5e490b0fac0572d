"""The routing classifier's parts, fitted and stored without pickle.

A ticket's text is read through TF-IDF *views* (word n-grams, character n-grams); each view has
a linear SVM per label. A multinomial logistic regression *stacks* the views' margins into
calibrated probabilities: it is fitted on out-of-fold margins (the SVMs of each fold never saw
the tickets they score), so its probabilities are honest on new tickets. Each part stores as
plain arrays (``.npz``) and a vocabulary list (``.json``).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

_SPACE = re.compile(r"\s+")


def clean(text: str) -> str:
    """Lower case, one space between words (the stored vocabulary holds no newlines)."""
    return _SPACE.sub(" ", text.lower()).strip()


@dataclass(frozen=True)
class ViewSpec:
    """How one view reads text (TfidfVectorizer's options) and its SVM's ``C``;
    ``balanced``: weight each label by the inverse of its share (rare queues count as much)."""

    name: str
    analyzer: str
    ngram: tuple[int, int]
    min_df: int
    c: float
    balanced: bool = True

    def vectorizer(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer=self.analyzer, ngram_range=self.ngram,
                               min_df=1 if vocabulary is not None else self.min_df,
                               sublinear_tf=True, dtype=np.float32, vocabulary=vocabulary,
                               lowercase=False)


#: word 1-2 grams and character 2-5 grams within words; C and the class weighting were chosen on
#: a validation split of the 80% training part of tickets.csv, never on its held-out 20%
VIEWS = (ViewSpec("word", "word", (1, 2), 1, 0.3, balanced=True),
         ViewSpec("char", "char_wb", (2, 5), 2, 0.3, balanced=False))


def fit_view(spec: ViewSpec, texts: Sequence[str]) -> tuple[TfidfVectorizer, sp.csr_matrix]:
    """The view's vectorizer fitted on ``texts`` and their rows (a small history keeps every
    term: ``min_df`` would leave it no vocabulary)."""
    vectorizer = spec.vectorizer()
    if len(texts) < 20 * spec.min_df:
        vectorizer.set_params(min_df=1)
    return vectorizer, vectorizer.fit_transform(texts).tocsr()


def save_view(vectorizer: TfidfVectorizer, path: Path) -> None:
    """Vocabulary (terms in column order) as JSON, idf as .npy."""
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    path.with_suffix(".vocab.json").write_text(json.dumps(terms), encoding="utf-8")
    np.save(path.with_suffix(".idf.npy"), vectorizer.idf_.astype(np.float32))


def load_view(spec: ViewSpec, path: Path) -> TfidfVectorizer:
    terms = json.loads(path.with_suffix(".vocab.json").read_text(encoding="utf-8"))
    vectorizer = spec.vectorizer({t: i for i, t in enumerate(terms)})
    vectorizer.idf_ = np.load(path.with_suffix(".idf.npy"), allow_pickle=False)
    return vectorizer


@dataclass(frozen=True)
class Linear:
    """Scores ``X @ coef.T + intercept``: one column per label of ``labels``."""

    coef: np.ndarray
    intercept: np.ndarray

    def scores(self, x: Any) -> np.ndarray:
        return np.asarray(x @ self.coef.T) + self.intercept


def svm_margins(x: sp.csr_matrix, y: np.ndarray, n_labels: int, c: float,
                balanced: bool = False) -> Linear:
    """One-vs-rest linear SVM margins for labels ``0..n_labels-1`` (absent labels: -1)."""
    present = np.unique(y)
    coef = np.zeros((n_labels, x.shape[1]), dtype=np.float32)
    intercept = np.full(n_labels, -1.0, dtype=np.float32)
    if len(present) == 1:
        intercept[present[0]] = 1.0
        return Linear(coef, intercept)
    svm = LinearSVC(C=c, class_weight="balanced" if balanced else None, random_state=0).fit(x, y)
    rows = present if len(present) > 2 else present[1:]
    coef[rows] = svm.coef_
    intercept[rows] = svm.intercept_
    if len(present) == 2:  # a binary SVM has one row: the other label gets its negation
        coef[present[0]], intercept[present[0]] = -svm.coef_[0], -svm.intercept_[0]
    return Linear(coef, intercept)


def folds(y: np.ndarray, n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds (fewer when a label is rare; at least 2), fixed seed."""
    smallest = int(np.bincount(y).min(initial=len(y)) if len(y) else 0)
    k = max(2, min(n_splits, smallest, len(y) // 2))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
    with warnings.catch_warnings():  # a label with fewer tickets than folds is expected here
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        return list(splitter.split(np.zeros(len(y)), y))


def out_of_fold(matrices: Sequence[sp.csr_matrix], specs: Sequence[ViewSpec], y: np.ndarray,
                n_labels: int, splits: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Every view's margins for every ticket from SVMs fitted without it (n x views*labels)."""
    out = np.zeros((len(y), len(specs) * n_labels), dtype=np.float32)
    for train, test in splits:
        for v, (x, spec) in enumerate(zip(matrices, specs, strict=True)):
            linear = svm_margins(x[train], y[train], n_labels, spec.c, spec.balanced)
            out[test, v * n_labels:(v + 1) * n_labels] = linear.scores(x[test])
    return out


def fit_stacker(margins: np.ndarray, y: np.ndarray, n_labels: int) -> Linear:
    """Multinomial logistic regression from margins to calibrated probabilities."""
    present = np.unique(y)
    coef = np.zeros((n_labels, margins.shape[1]), dtype=np.float32)
    intercept = np.full(n_labels, -30.0, dtype=np.float32)
    if len(present) == 1:
        intercept[present[0]] = 0.0
        return Linear(coef, intercept)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(margins, y)
    if len(present) == 2:
        coef[present[1]], intercept[present[1]] = model.coef_[0], model.intercept_[0]
        intercept[present[0]] = 0.0
    else:
        coef[present], intercept[present] = model.coef_, model.intercept_
    return Linear(coef, intercept)


def softmax(scores: np.ndarray) -> np.ndarray:
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def threshold_for(probabilities: np.ndarray, coverage: float) -> float:
    """The top probability that keeps ``coverage`` of the tickets at or above it."""
    if not len(probabilities):
        return 0.0
    top = np.sort(probabilities.max(axis=1))[::-1]
    return float(top[min(len(top) - 1, max(0, int(np.ceil(coverage * len(top))) - 1))])
