"""The router on a small ticket history written like the tickets of a real service desk:
training, suggestions, the "not sure" threshold, similar tickets, storing and loading."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.errors import KbError
from tickets.routing import Router, load_router, router_path, save_router, train_router
from tickets.routing_eval import coverage_curve, scores
from tickets.routing_model import folds, threshold_for

#: (id, text, category, group): four queues, twelve tickets each
TICKETS = [
    ("H01", "laptop screen flickers when docked, external monitor goes black", "Hardware",
     "Desk Support"),
    ("H02", "keyboard keys stuck on my laptop, the space bar does not work", "Hardware",
     "Desk Support"),
    ("H03", "docking station not charging the laptop since this morning", "Hardware",
     "Desk Support"),
    ("H04", "monitor has dead pixels and a yellow line across the screen", "Hardware",
     "Desk Support"),
    ("H05", "laptop battery drains in one hour, please replace the battery", "Hardware",
     "Desk Support"),
    ("H06", "printer on floor 3 jams on every page, paper tray broken", "Hardware",
     "Desk Support"),
    ("H07", "mouse and headset not recognised by the laptop usb port", "Hardware",
     "Desk Support"),
    ("H08", "laptop fan very loud and laptop overheats, shuts down", "Hardware",
     "Desk Support"),
    ("H09", "second monitor not detected after windows update on the docking station",
     "Hardware", "Desk Support"),
    ("H10", "laptop does not power on, power button led blinks orange", "Hardware",
     "Desk Support"),
    ("H11", "webcam on laptop shows black image in meetings", "Hardware", "Desk Support"),
    ("H12", "broken laptop hinge, screen wobbles, needs repair", "Hardware", "Desk Support"),
    ("A01", "please grant access to the finance shared folder for new colleague", "Access",
     "Identity"),
    ("A02", "account locked after password expired, cannot log in", "Access", "Identity"),
    ("A03", "request access to the sales crm for my team", "Access", "Identity"),
    ("A04", "reset password for my account, login fails with wrong password", "Access",
     "Identity"),
    ("A05", "need vpn access to work from home, account not enabled", "Access", "Identity"),
    ("A06", "add me to the distribution list and grant mailbox access", "Access", "Identity"),
    ("A07", "cannot log in to the portal, access denied for my account", "Access",
     "Identity"),
    ("A08", "remove access rights of leaver from all systems and accounts", "Access",
     "Identity"),
    ("A09", "grant read access to the project sharepoint site", "Access", "Identity"),
    ("A10", "two factor authentication token lost, cannot log in to account", "Access",
     "Identity"),
    ("A11", "password reset needed for the reporting tool account", "Access", "Identity"),
    ("A12", "please create an account and access for the contractor starting monday",
     "Access", "Identity"),
    ("R01", "question about my holiday allowance and leave balance this year", "HR Support",
     "People Ops"),
    ("R02", "payslip shows wrong salary for october, please check", "HR Support",
     "People Ops"),
    ("R03", "how do i request parental leave and which form is needed", "HR Support",
     "People Ops"),
    ("R04", "update my home address and bank details in the hr system", "HR Support",
     "People Ops"),
    ("R05", "sick leave certificate submitted, absence not recorded", "HR Support",
     "People Ops"),
    ("R06", "employment contract copy needed for my mortgage application", "HR Support",
     "People Ops"),
    ("R07", "overtime hours missing from my timesheet approval and payroll", "HR Support",
     "People Ops"),
    ("R08", "pension scheme enrolment question for new employee", "HR Support",
     "People Ops"),
    ("R09", "annual leave request rejected by the system, please help", "HR Support",
     "People Ops"),
    ("R10", "salary increase letter not received after review", "HR Support", "People Ops"),
    ("R11", "benefits enrolment deadline and health insurance options", "HR Support",
     "People Ops"),
    ("R12", "training budget request approval from hr for course", "HR Support",
     "People Ops"),
    ("P01", "purchase order for two new monitors, please approve the quote", "Purchase",
     "Procurement"),
    ("P02", "order a licence for the design software, po needed", "Purchase", "Procurement"),
    ("P03", "new purchase request: docking stations for the team, quote attached",
     "Purchase", "Procurement"),
    ("P04", "purchase po received, please log the invoice and delivery receipt",
     "Purchase", "Procurement"),
    ("P05", "buy three headsets for the call centre, supplier quote attached", "Purchase",
     "Procurement"),
    ("P06", "order status of purchase order for laptops, delivery date", "Purchase",
     "Procurement"),
    ("P07", "renew the annual subscription, purchase approval required", "Purchase",
     "Procurement"),
    ("P08", "invoice for the purchase order does not match the quote", "Purchase",
     "Procurement"),
    ("P09", "please raise a po for the conference room screen from the supplier",
     "Purchase", "Procurement"),
    ("P10", "purchase of ergonomic chairs, budget approved, order please", "Purchase",
     "Procurement"),
    ("P11", "receipt of ordered items missing in the purchase system", "Purchase",
     "Procurement"),
    ("P12", "order software licences for new starters, quote and po", "Purchase",
     "Procurement"),
]


@pytest.fixture(scope="module")
def router() -> Router:
    ids, texts, categories, groups = zip(*TICKETS, strict=True)
    return train_router(texts, categories, groups, ids)


@pytest.mark.parametrize(("text", "category"), [
    ("my laptop screen is black when docked", "Hardware"),
    ("forgot password, account locked, please reset", "Access"),
    ("question about leave balance and holiday allowance", "HR Support"),
    ("need a purchase order approved for the supplier quote", "Purchase")])
def test_suggests_the_queue_of_similar_tickets(router: Router, text: str,
                                               category: str) -> None:
    suggestion = router.suggest(text)
    assert suggestion.category == category
    assert 0.25 < suggestion.confidence <= 1.0
    assert [c for c, _ in suggestion.alternatives] != [] and category not in dict(
        suggestion.alternatives)
    assert suggestion.similar_tickets[0].category == category


def test_probabilities_sum_to_one_and_alternatives_are_in_order(router: Router) -> None:
    probs = router.probabilities(["laptop monitor broken", "payslip wrong"])
    assert probs.shape == (2, 4)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    s = router.suggest("laptop monitor broken")
    ranked = [s.confidence, *(p for _, p in s.alternatives)]
    assert ranked == sorted(ranked, reverse=True) and len(s.alternatives) == 3


def test_suggests_the_assignment_group(router: Router) -> None:
    s = router.suggest("salary wrong on payslip")
    assert s.group == "People Ops"
    assert s.group_confidence is not None and 0.25 < s.group_confidence <= 1.0


def test_below_the_threshold_it_does_not_know(router: Router) -> None:
    s = router.suggest("hello, thanks")
    assert replace(router, threshold=s.confidence + 0.01).suggest("hello, thanks").known is False
    assert replace(router, threshold=s.confidence).suggest("hello, thanks").known is True
    assert 0.0 < router.threshold < 1.0  # chosen on training folds, stored with the model


def test_similar_tickets_are_the_nearest_past_ones(router: Router) -> None:
    similar = router.suggest(TICKETS[1][1].upper(), k=3).similar_tickets
    assert similar[0].id == "H02" and similar[0].similarity == pytest.approx(1.0, abs=1e-4)
    assert similar[0].text == TICKETS[1][1]
    assert len(similar) == 3
    assert [t.similarity for t in similar] == sorted((t.similarity for t in similar),
                                                     reverse=True)
    assert router.suggest(TICKETS[1][1], k=0).similar_tickets == ()


def test_without_groups_there_is_no_group_suggestion() -> None:
    texts = [t for _, t, _, _ in TICKETS]
    categories = [c for _, _, c, _ in TICKETS]
    s = train_router(texts, categories).suggest("keyboard broken")
    assert s.group is None and s.group_confidence is None
    assert s.similar_tickets[0].id.isdigit()  # no ids given: row numbers


def test_two_categories_train_too() -> None:
    rows = [t for t in TICKETS if t[2] in ("Hardware", "Purchase")]
    router = train_router([t[1] for t in rows], [t[2] for t in rows])
    assert router.category.labels == ("Hardware", "Purchase")
    assert router.suggest("laptop fan loud, overheats").category == "Hardware"
    assert router.suggest("purchase order for the quote").category == "Purchase"


def test_training_needs_two_categories_and_matching_lengths() -> None:
    with pytest.raises(ValueError, match="at least 2 categories"):
        train_router(["a b", "c d", "e f", "g h"], ["X"] * 4)
    with pytest.raises(ValueError, match="same length"):
        train_router(["a b", "c d"], ["X"])


def test_save_and_load_give_the_same_suggestions(router: Router, tmp_path: Path) -> None:
    path = router_path(tmp_path / "data")
    assert path == tmp_path / "data" / "routing"
    save_router(router, path)
    loaded = load_router(path)
    for text in ("laptop battery dead", "grant me access", "buy monitors"):
        assert loaded.suggest(text) == router.suggest(text)
    assert loaded.threshold == router.threshold
    assert not [p for p in path.iterdir() if p.suffix in (".pkl", ".joblib", ".pickle")]
    save_router(router, path)  # replaced whole, nothing left beside it
    assert sorted(p.name for p in path.parent.iterdir()) == ["routing"]


def test_loading_without_a_model_says_to_train(tmp_path: Path) -> None:
    with pytest.raises(KbError, match=r"no routing model in .*: run kb tickets train$"):
        load_router(tmp_path / "routing")


@pytest.mark.parametrize("damage", ["truncate weights", "drop vocabulary", "bad manifest"])
def test_a_damaged_model_is_a_clear_error(router: Router, tmp_path: Path,
                                          damage: str) -> None:
    path = tmp_path / "routing"
    save_router(router, path)
    if damage == "truncate weights":
        data = (path / "weights.npz").read_bytes()
        (path / "weights.npz").write_bytes(data[: len(data) // 2])
    elif damage == "drop vocabulary":
        (path / "view-word.vocab.json").write_text('["laptop"]')
    else:
        (path / "manifest.json").write_text("{not json")
    with pytest.raises(KbError, match="cannot be read .*run kb tickets train again"):
        load_router(path)


# --- the pieces, on hand-computed values ------------------------------------------------------

def test_threshold_keeps_the_asked_share() -> None:
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.5, 0.5], [0.2, 0.8]])
    # top probabilities 0.9, 0.6, 0.7, 0.5, 0.8: keeping 80% (4 of 5) means >= 0.6
    assert threshold_for(probs, 0.8) == pytest.approx(0.6)
    assert threshold_for(probs, 1.0) == pytest.approx(0.5)
    assert threshold_for(probs, 0.2) == pytest.approx(0.9)


def test_coverage_curve_on_hand_computed_values() -> None:
    correct = np.array([True, False, True, True])
    confidence = np.array([0.9, 0.4, 0.7, 0.5])
    assert coverage_curve(correct, confidence, (1.0, 0.5, 0.75)) == [
        {"coverage": 1.0, "threshold": 0.4, "accuracy": 0.75},
        {"coverage": 0.5, "threshold": 0.7, "accuracy": 1.0},
        {"coverage": 0.75, "threshold": 0.5, "accuracy": 1.0}]


def test_scores_on_hand_computed_values() -> None:
    out = scores(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b"])
    assert out["accuracy"] == 0.75
    assert out["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667,
                                     "support": 2}
    assert out["per_class"]["b"]["precision"] == 0.6667 and out["per_class"]["b"]["f1"] == 0.8
    assert out["macro_f1"] == round((2 / 3 + 0.8) / 2, 4)
    assert out["confusion"] == [[1, 1], [0, 2]]


def test_folds_shrink_for_rare_labels() -> None:
    assert len(folds(np.array([0] * 10 + [1] * 10))) == 5
    assert len(folds(np.array([0] * 10 + [1] * 3))) == 3
    assert len(folds(np.array([0] * 10 + [1]))) == 2


def test_similar_tickets_show_the_text_as_written() -> None:
    router = train_router(["Laptop  screen\nBROKEN on VPN", "Order a PO", "laptop fan noise",
                           "purchase order"], ["Hardware", "Purchase", "Hardware", "Purchase"])
    assert router.suggest("laptop screen broken").similar_tickets[0].text == \
        "Laptop screen BROKEN on VPN"
