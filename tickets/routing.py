"""Routing suggestions: which category (and assignment group) a new ticket belongs to.

Trained from the imported ticket history (``kb tickets train``), used by ``kb route`` and
``POST /api/route``::

    router = train_router(texts, categories, groups, ids)
    save_router(router, router_path(data_dir))
    load_router(router_path(data_dir)).suggest("laptop screen flickers after docking")

The model (:mod:`tickets.routing_model`): word and character TF-IDF views, a linear SVM per
view, stacked by a logistic regression fitted on out-of-fold margins, so ``confidence`` is a
calibrated probability. ``known`` is False below the stored threshold: the top probability that
kept 80% of the training tickets in cross-validation (configurable with ``coverage=``, or with
``dataclasses.replace(router, threshold=...)``). Similar past tickets are the nearest by cosine
of their word TF-IDF.

More tickets mean a full refit (``train_router`` on the whole history, as ``kb tickets train``
does): 191 s for 40,000 tickets on 2 cores shared with other work (benchmarks/routing.py), a
cost small enough that no partial update is kept: a partial one would leave the vocabulary and
the threshold as they were.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from core.errors import KbError
from core.paths import private_dir
from tickets.routing_model import (
    VIEWS,
    Linear,
    ViewSpec,
    clean,
    fit_stacker,
    fit_view,
    folds,
    load_view,
    out_of_fold,
    save_view,
    softmax,
    svm_margins,
    threshold_for,
)

if TYPE_CHECKING:
    from assistant.service import Assistant
    from assistant.types import Viewer

#: the share of tickets the default threshold keeps as "known" (chosen on training folds)
COVERAGE = 0.8
#: stored text of a similar ticket, in characters
SNIPPET = 300
#: what ``Router.info`` holds (stored in the manifest)
INFO_KEYS = ("tickets", "coverage", "train_seconds", "cv_accuracy", "trained_at")


class SimilarTicket(NamedTuple):
    id: str
    text: str
    category: str
    similarity: float


@dataclass(frozen=True)
class RouteSuggestion:
    """The suggested category with its calibrated probability; ``known`` is False when that
    is below the router's threshold (say "I don't know" rather than the category)."""

    category: str
    confidence: float
    known: bool
    group: str | None
    group_confidence: float | None
    alternatives: tuple[tuple[str, float], ...]
    similar_tickets: tuple[SimilarTicket, ...]


@dataclass(frozen=True)
class Head:
    """One label set's classifier: an SVM per view, then the stacker."""

    labels: tuple[str, ...]
    views: tuple[Linear, ...]
    stacker: Linear

    def probabilities(self, matrices: Sequence[sp.csr_matrix]) -> np.ndarray:
        margins = np.hstack([v.scores(m) for v, m in zip(self.views, matrices, strict=True)])
        return softmax(self.stacker.scores(margins))


@dataclass(frozen=True)
class History:
    """The training tickets, for similar-ticket look-ups: L2-normalised word TF-IDF rows."""

    ids: tuple[str, ...]
    texts: tuple[str, ...]
    categories: tuple[str, ...]
    matrix: sp.csr_matrix

    def nearest(self, vector: sp.csr_matrix, k: int) -> tuple[SimilarTicket, ...]:
        if k <= 0 or not self.ids:
            return ()
        sims = np.asarray((self.matrix @ vector.T).todense()).ravel()
        top = np.argpartition(-sims, min(k, len(sims) - 1))[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return tuple(SimilarTicket(self.ids[i], self.texts[i], self.categories[i],
                                   round(float(sims[i]), 4)) for i in top if sims[i] > 0)


@dataclass(frozen=True)
class Router:
    """A trained router: :meth:`suggest` answers one ticket text."""

    specs: tuple[ViewSpec, ...]
    vectorizers: tuple[TfidfVectorizer, ...]
    category: Head
    group: Head | None
    threshold: float
    history: History
    info: dict

    def matrices(self, texts: Sequence[str]) -> list[sp.csr_matrix]:
        cleaned = [clean(t) for t in texts]
        return [v.transform(cleaned).tocsr() for v in self.vectorizers]

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Category probabilities, one row per text, columns in ``category.labels`` order."""
        return self.category.probabilities(self.matrices(texts))

    def suggest(self, text: str, k: int = 5) -> RouteSuggestion:
        matrices = self.matrices([text])
        probs = self.category.probabilities(matrices)[0]
        order = np.argsort(-probs, kind="stable")
        best = int(order[0])
        confidence = round(float(probs[best]), 4)
        group, group_p = None, None
        if self.group is not None:
            gprobs = self.group.probabilities(matrices)[0]
            g = int(np.argmax(gprobs))
            group, group_p = self.group.labels[g], round(float(gprobs[g]), 4)
        return RouteSuggestion(
            self.category.labels[best], confidence, confidence >= self.threshold, group, group_p,
            tuple((self.category.labels[i], round(float(probs[i]), 4)) for i in order[1:4]),
            self.history.nearest(matrices[0], k))


def _encode(labels: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
    names, codes = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)
    return tuple(str(n) for n in names), codes.astype(np.int64)


def train_head(matrices: Sequence[sp.csr_matrix], specs: Sequence[ViewSpec],
               labels: Sequence[str]) -> tuple[Head, np.ndarray]:
    """A head for ``labels`` and its out-of-fold probabilities (to choose a threshold on)."""
    names, y = _encode(labels)
    n = len(names)
    splits = folds(y)
    oof = out_of_fold(matrices, specs, y, n, splits)
    stacker = fit_stacker(oof, y, n)
    held_out = np.zeros((len(y), n), dtype=np.float32)
    for train, test in splits:  # the stacker's own probabilities on tickets it did not see
        held_out[test] = softmax(fit_stacker(oof[train], y[train], n).scores(oof[test]))
    views = tuple(svm_margins(m, y, n, s.c, s.balanced)
                  for m, s in zip(matrices, specs, strict=True))
    return Head(names, views, stacker), held_out


def train_router(texts: Sequence[str], categories: Sequence[str],
                 groups: Sequence[str | None] | None = None,
                 ids: Sequence[str] | None = None, *, coverage: float = COVERAGE,
                 specs: Sequence[ViewSpec] = VIEWS) -> Router:
    """Fit the router on past tickets (their text and the category they were routed to; the
    assignment group where known). ValueError: fewer than 4 tickets or 2 categories."""
    if len(texts) != len(categories) or (groups is not None and len(groups) != len(texts)):
        raise ValueError("texts, categories and groups must have the same length")
    if len(texts) < 4 or len(set(categories)) < 2:
        raise ValueError("routing needs at least 4 tickets in at least 2 categories")
    started = time.perf_counter()
    cleaned = [clean(t) for t in texts]
    fitted = [fit_view(s, cleaned) for s in specs]
    vectorizers = tuple(v for v, _ in fitted)
    matrices = [m for _, m in fitted]
    category, held_out = train_head(matrices, specs, categories)
    group = None
    if groups is not None:
        rows = np.array([i for i, g in enumerate(groups) if g], dtype=np.int64)
        if len(rows) >= 4 and len({groups[i] for i in rows}) >= 2:
            group, _ = train_head([m[rows] for m in matrices], specs,
                                  [str(groups[i]) for i in rows])
    ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(len(texts))]
    history = History(tuple(ids), tuple(" ".join(t.split())[:SNIPPET] for t in texts),
                      tuple(str(c) for c in categories), matrices[0])
    oof_top = held_out.argmax(axis=1)
    info = {"tickets": len(texts), "coverage": coverage,
            "train_seconds": round(time.perf_counter() - started, 2),
            "cv_accuracy": round(float(np.mean(oof_top == _encode(categories)[1])), 4),
            "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    return Router(tuple(specs), vectorizers, category, group,
                  threshold_for(held_out, coverage), history, info)


def router_path(data_dir: Path) -> Path:
    return data_dir / "routing"


FORMAT = 1
_MISSING = "no routing model in {path}: run kb tickets train"


def _arrays(prefix: str, head: Head) -> dict[str, Any]:
    out = {f"{prefix}.stack.coef": head.stacker.coef, f"{prefix}.stack.b": head.stacker.intercept}
    for v, linear in enumerate(head.views):
        out[f"{prefix}.view{v}.coef"] = linear.coef
        out[f"{prefix}.view{v}.b"] = linear.intercept
    return out


def _head(prefix: str, labels: Sequence[str], arrays: Any, n_views: int) -> Head:
    views = tuple(Linear(arrays[f"{prefix}.view{v}.coef"], arrays[f"{prefix}.view{v}.b"])
                  for v in range(n_views))
    return Head(tuple(labels), views,
                Linear(arrays[f"{prefix}.stack.coef"], arrays[f"{prefix}.stack.b"]))


def save_router(router: Router, path: Path) -> None:
    """Write the router into the directory ``path``, replacing what was there in one rename
    (a server reading the old one never sees half a model). Plain JSON and ``.npz`` arrays,
    no pickle: loading runs no code from the files."""
    private_dir(path.parent)
    tmp = Path(tempfile.mkdtemp(prefix=".routing-", dir=path.parent))
    for spec, vectorizer in zip(router.specs, router.vectorizers, strict=True):
        save_view(vectorizer, tmp / f"view-{spec.name}")
    arrays = _arrays("category", router.category)
    if router.group is not None:
        arrays.update(_arrays("group", router.group))
    m = router.history.matrix
    arrays.update({"history.data": m.data, "history.indices": m.indices,
                   "history.indptr": m.indptr, "history.shape": np.array(m.shape)})
    np.savez(tmp / "weights.npz", **arrays)
    h = router.history
    (tmp / "history.json").write_text(json.dumps(
        {"ids": h.ids, "texts": h.texts, "categories": h.categories}), encoding="utf-8")
    manifest = {"format": FORMAT, "threshold": router.threshold,
                "specs": [asdict(s) for s in router.specs],
                "categories": router.category.labels,
                "groups": router.group.labels if router.group else None, **router.info}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    old = path.with_name(f".{path.name}-old")
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)


def load_router(path: Path) -> Router:
    """The router saved at ``path``; KbError when there is none or it cannot be read."""
    if not (path / "manifest.json").is_file():
        raise KbError(_MISSING.format(path=path))
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT}")
        specs = tuple(ViewSpec(s["name"], s["analyzer"], tuple(s["ngram"]), s["min_df"], s["c"],
                               s["balanced"]) for s in manifest["specs"])
        vectorizers = tuple(load_view(s, path / f"view-{s.name}") for s in specs)
        with np.load(path / "weights.npz", allow_pickle=False) as arrays:
            category = _head("category", manifest["categories"], arrays, len(specs))
            group = (_head("group", manifest["groups"], arrays, len(specs))
                     if manifest["groups"] else None)
            matrix = sp.csr_matrix((arrays["history.data"], arrays["history.indices"],
                                    arrays["history.indptr"]),
                                   shape=tuple(arrays["history.shape"]))
        stored = json.loads((path / "history.json").read_text(encoding="utf-8"))
        history = History(tuple(stored["ids"]), tuple(stored["texts"]),
                          tuple(stored["categories"]), matrix)
        router = Router(specs, vectorizers, category, group, float(manifest["threshold"]),
                        history, {k: v for k, v in manifest.items() if k in INFO_KEYS})
        router.suggest("check the model", k=1)  # shapes that do not fit fail here
    except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile) as exc:
        raise KbError(f"the routing model in {path} cannot be read ({type(exc).__name__}: "
                      f"{exc}): run kb tickets train again") from None
    return router


def closest_articles(assistant: Assistant, text: str, viewer: Viewer, as_of: date,
                     k: int = 3) -> list[dict[str, str]]:
    """The KB articles nearest the ticket that this viewer may read, as ``kb ask`` finds them
    (the same retrieval, relevance floor and hold on articles under review)."""
    from assistant.answer import related
    from assistant.service import run_retrieval
    from assistant.trust import under_review

    retrieval = run_retrieval(assistant, text, viewer, as_of, k)
    held = under_review(assistant.state, (a.article_id for a in retrieval.articles))
    kept = tuple(a for a in retrieval.articles if a.article_id not in held)
    return list(related(kept, assistant.related_floor))
