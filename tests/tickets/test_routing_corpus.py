"""The router on real tickets: a stratified sample of 6,000 from the shared it-tickets corpus
(``../shared/datasets/it-tickets``, never copied into the repo), through ``kb eval-routing``'s
own 80/20 evaluation, against the TF-IDF + linear SVM baseline trained in the same run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sklearn.model_selection import train_test_split

from tickets.routing_eval import evaluate_routing, read_labelled

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

TICKETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "it-tickets" / \
    "tickets.csv"
SAMPLE = 6000


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    if not TICKETS.is_file():
        pytest.skip(f"the it-tickets corpus is not at {TICKETS.resolve()} (it lives in the "
                    "shared folder beside the repo)")
    rows = read_labelled(TICKETS)
    sample, _ = train_test_split(rows, train_size=SAMPLE, random_state=0,
                                 stratify=[r.category for r in rows])
    return evaluate_routing(sample)


def test_the_router_beats_the_baseline_of_the_same_run(report: dict[str, Any]) -> None:
    router, baseline = report["router"], report["baseline"]
    assert (report["train"], report["test"]) == (4800, 1200)
    assert len(report["labels"]) == 8
    assert router["macro_f1"] >= baseline["macro_f1"] + 0.005, (router, baseline)
    assert router["accuracy"] >= baseline["accuracy"], (router, baseline)


def test_confidence_is_calibrated_on_unseen_tickets(report: dict[str, Any]) -> None:
    """The threshold chosen on training folds to keep 80% keeps about 80% of unseen tickets,
    and the kept ones are routed better than all of them."""
    router = report["router"]
    stored = router["at_stored_threshold"]
    assert 0.74 <= stored["coverage"] <= 0.86, stored
    assert stored["accuracy"] >= router["accuracy"] + 0.04, stored
    curve = router["coverage_curve"]
    accuracies = [c["accuracy"] for c in curve]  # fewer tickets kept: more of them right
    assert accuracies == sorted(accuracies), curve
