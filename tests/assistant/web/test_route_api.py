"""``POST /api/route`` on a real uvicorn server over kb_samples/ (HashingEmbedder), with a
router trained on the ticket history of tests/tickets/test_routing.py: who may call it, its
shape, the caller's groups deciding the articles, 409 without a model, a new model picked up
after a training, and the request's limits."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.web.route import MAX_TICKET
from tests.assistant.web.conftest import serve_app
from tests.assistant.web.fast_app import FastKb, add_users, build_data_dir, fast_app
from tests.tickets.test_routing import TICKETS
from tickets.routing import router_path, save_router, train_router

RESTRICTED_HR = "onboarding/leaver-process-confidential.md"  # groups: [hr]
#: close to the restricted HR article's steps
LEAVER = ("confidential exit dismissal: disable the account, revoke sessions and block the "
          "building badge at the cut-off time for HR")
KEYS = {"category", "confidence", "known", "group", "group_confidence", "alternatives",
        "similar_tickets", "articles"}


def train(data_dir: Path, tickets: list[tuple[str, str, str, str]]) -> None:
    ids, texts, categories, groups = zip(*tickets, strict=True)
    save_router(train_router(texts, categories, groups, ids), router_path(data_dir))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FastKb]]:
    kb = add_users(build_data_dir(tmp_path_factory.mktemp("route-api")))
    train(kb.data_dir, TICKETS)
    url, server, thread = serve_app(fast_app(kb.data_dir))
    yield url, kb
    server.should_exit = True
    thread.join(timeout=10)


def post(served: tuple[str, FastKb], who: str | None, body: object) -> httpx.Response:
    url, kb = served
    return httpx.post(f"{url}/api/route", json=body, headers=kb.auth(who), timeout=60)


@pytest.mark.parametrize("who", ["agent", "owner", "lead", "admin"])
def test_signed_in_users_get_a_suggestion(served: tuple[str, FastKb], who: str) -> None:
    response = post(served, who, {"text": "my laptop keyboard keys are stuck"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == KEYS
    assert body["category"] == "Hardware" and body["group"] == "Desk Support"
    assert body["similar_tickets"][0] == {
        "id": "H02", "category": "Hardware", "similarity": body["similar_tickets"][0][
            "similarity"], "text": "keyboard keys stuck on my laptop, the space bar does not work"}
    assert isinstance(body["known"], bool) and 0 < body["confidence"] <= 1


def test_anonymous_callers_are_told_to_sign_in(served: tuple[str, FastKb]) -> None:
    response = post(served, None, {"text": "laptop broken"})
    assert response.status_code == 401
    assert response.json()["detail"].startswith("sign in first")


def test_articles_follow_the_callers_groups(served: tuple[str, FastKb]) -> None:
    hr = [a["article_id"] for a in post(served, "hr-agent", {"text": LEAVER}).json()["articles"]]
    other = [a["article_id"] for a in post(served, "agent", {"text": LEAVER}).json()["articles"]]
    assert RESTRICTED_HR in hr
    assert RESTRICTED_HR not in other


def test_k_sets_the_number_of_similar_tickets(served: tuple[str, FastKb]) -> None:
    body = post(served, "agent", {"text": "reset my password please", "k": 2}).json()
    assert len(body["similar_tickets"]) == 2
    assert post(served, "agent", {"text": "x", "k": 0}).json()["similar_tickets"] == []


@pytest.mark.parametrize(("body", "where"), [
    ({"text": ""}, "body.text"), ({"text": "a" * (MAX_TICKET + 1)}, "body.text"),
    ({"text": "laptop", "extra": 1}, "body.extra"), ({"text": 5}, "body.text"),
    ({"text": "laptop", "k": 21}, "body.k"), ({}, "body.text")])
def test_bad_requests_are_422_naming_the_field(served: tuple[str, FastKb], body: dict,
                                               where: str) -> None:
    response = post(served, "agent", body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(where)


def test_no_model_is_409_and_a_new_model_is_picked_up(served: tuple[str, FastKb],
                                                       tmp_path: Path) -> None:
    data_dir = served[1].data_dir
    path = router_path(data_dir)
    shutil.move(path, tmp_path / "kept")
    try:
        response = post(served, "agent", {"text": "laptop broken"})
        assert response.status_code == 409
        assert response.json() == {"detail": "no routing model yet: an admin trains one with "
                                             "'kb tickets train'"}
        # a history whose hardware queue is called "Devices": the server reads the new model
        train(data_dir, [(i, t, "Devices" if c == "Hardware" else c, g)
                         for i, t, c, g in TICKETS])
        assert post(served, "agent", {"text": "laptop fan loud"}).json()["category"] == "Devices"
        (path / "weights.npz").write_bytes(b"not a zip")
        stamp = (path / "manifest.json").stat().st_mtime_ns + 1_000_000_000
        os.utime(path / "manifest.json", ns=(stamp, stamp))  # as a new training would
        broken = post(served, "agent", {"text": "laptop broken"})
        assert broken.status_code == 409 and "cannot be read" in broken.json()["detail"]
    finally:
        shutil.rmtree(path, ignore_errors=True)
        shutil.move(tmp_path / "kept", path)
    assert post(served, "agent", {"text": "laptop fan loud"}).json()["category"] == "Hardware"
