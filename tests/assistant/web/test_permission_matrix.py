"""Every role x group x route and CLI command that returns article text, titles, ids,
evidence, counts, gaps or metrics (issue 11): restricted articles carry unique markers in
title and body (tests/assistant/test_flag_leaks.py's KB), and a marker reaches exactly the
users who may see it: pages, flags and their history by ``core.visibility`` with
``users.reader`` (owners and admins also see articles whose access is unclear, to fix them),
answers by the asker's groups alone (never an out-of-service article, whatever the role),
gaps by the asker's groups. TestClient and the HashingEmbedder: seconds, no model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kb_cli.main import main as kb_main
from tests.assistant.test_flag_leaks import (
    FIN,
    HR,
    HR_ARTICLE,
    LEAK_ARTICLES,
    LEAK_USERS,
    MARKERS,
    PUBLIC,
    TWIN,
    TYPO,
    UNCLEAR,
    build_leak_kb,
)
from tests.assistant.web.fast_app import FastKb, fast_app

USERS = tuple(LEAK_USERS)
REVIEWERS = {u for u, (role, _) in LEAK_USERS.items() if role in ("owner", "admin")}
LEADS = {u for u, (role, _) in LEAK_USERS.items() if role in ("lead", "admin")}
#: who may open the article a marker is in (pages, the review queue, flag history, metrics)
SEES = {FIN: {"fin-agent", "fin-owner", "fin-lead", "admin"},
        HR: {"hr-agent", "hr-owner", "admin"},
        TYPO: {"owner", "fin-owner", "hr-owner", "admin"}}
#: who may be answered from it: the asker's groups, any role; access unclear: nobody
ANSWERED_FROM = {FIN: {"fin-agent", "fin-owner", "fin-lead"}, HR: {"hr-agent", "hr-owner"},
                 TYPO: set()}
#: questions whose best article carries the marker (their text holds none)
QUESTIONS = {FIN: "Install the VPN client on the company laptop and press Connect",
             HR: "Revoke the leaver's badge and stop the salary payments",
             TYPO: "Export the timesheets and send the payroll file to the bank"}
#: gap questions (nothing answers them), each asked by a user of one group, or of none
GAPS = {"fin-agent": "ZQX-GAPFIN-9001 canteen menu on Fridays",
        "hr-agent": "ZQX-GAPHR-9002 parking permit for visitors",
        "agent": "ZQX-GAPALL-9003 office plants watering rota"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, FastKb]]:
    kb = build_leak_kb(tmp_path_factory.mktemp("permission-matrix"))
    with TestClient(fast_app(kb.data_dir), follow_redirects=False) as client:
        ctx = Ctx(client, kb)
        ctx.setup()
        yield client, kb


class Ctx:
    def __init__(self, client: TestClient, kb: FastKb) -> None:
        self.client, self.kb = client, kb

    def call(self, who: str | None, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, path, headers=self.kb.auth(who),
                                   **({"json": body} if body is not None else {}))

    def setup(self) -> None:
        """Gaps asked by users of each group; answers citing the restricted articles (for the
        dashboard's most cited); a dismissal note naming each marker on its article's flag."""
        for who, question in GAPS.items():
            answer = self.call(who, "POST", "/api/ask", {"question": question}).json()
            assert not answer["answered"], question
        for marker, question in QUESTIONS.items():
            for who in ANSWERED_FROM[marker]:
                self.call(who, "POST", "/api/ask", {"question": question})
        items = self.call("admin", "GET", "/api/flags?state=").json()["items"]
        for article, marker in ((TWIN, FIN), (HR_ARTICLE, HR), (UNCLEAR, TYPO)):
            flag = next(f for f in items if f["article_id"] == article)
            done = self.call("admin", "POST", f"/api/flags/{flag['id']}/actions",
                             {"action": "dismiss", "reason": f"kept: {marker}"})
            assert done.status_code == 200, done.text


@pytest.fixture
def ctx(served: tuple[TestClient, FastKb]) -> Ctx:
    return Ctx(*served)


def leaked(text: str) -> set[str]:
    return {m for m in MARKERS if m in text}


def expect(who: str, allowed: dict[str, set[str]]) -> set[str]:
    return {m for m in MARKERS if who in allowed[m]}


@pytest.mark.parametrize("who", USERS)
def test_article_pages(ctx: Ctx, who: str) -> None:
    seen = ""
    for article in LEAK_ARTICLES:
        response = ctx.call(who, "GET", f"/api/articles/{article}")
        assert response.status_code in (200, 404)
        seen += response.text
    assert leaked(seen) == expect(who, SEES)


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_answers(ctx: Ctx, who: str, path: str) -> None:
    seen = ""
    for question in QUESTIONS.values():
        response = ctx.call(who, "POST", path, {"question": question})
        assert response.status_code == 200
        seen += response.text
    assert leaked(seen) == expect(who, ANSWERED_FROM)


@pytest.mark.parametrize("who", USERS)
def test_review_queue_and_flag_history(ctx: Ctx, who: str) -> None:
    listed = ctx.call(who, "GET", "/api/flags?state=")
    if who not in REVIEWERS:
        assert listed.status_code == 403
        return
    seen = listed.text
    for flag in ctx.call("admin", "GET", "/api/flags?state=").json()["items"]:
        history = ctx.call(who, "GET", f"/api/flags/{flag['id']}/history")
        assert history.status_code in (200, 404)
        seen += history.text
    assert leaked(seen) == expect(who, SEES)


@pytest.mark.parametrize("who", USERS)
def test_metrics(ctx: Ctx, who: str) -> None:
    response = ctx.call(who, "GET", "/api/metrics")
    if who not in LEADS:
        assert response.status_code == 403
        return
    body = response.json()
    cited = {FIN, HR}  # answers cite them (setup); the article of TYPO answers no one
    assert leaked(response.text) == expect(who, SEES) & cited
    visible = sum(1 for a in LEAK_ARTICLES
                  if ctx.call(who, "GET", f"/api/articles/{a}").status_code == 200)
    assert body["health"]["articles"] == visible


@pytest.mark.parametrize("who", USERS)
def test_gaps_by_the_askers_groups(ctx: Ctx, who: str) -> None:
    response = ctx.call(who, "GET", "/api/gaps")
    if who not in REVIEWERS:
        assert response.status_code == 403
        return
    shown = {q for q in GAPS.values() if q in response.text}
    groups = LEAK_USERS[who][1]
    wanted = {q for asker, q in GAPS.items()
              if who == "admin" or not LEAK_USERS[asker][1] or LEAK_USERS[asker][1] & groups}
    assert shown == wanted
    assert leaked(response.text) == set()  # the answered questions name no marker


def test_two_owners_of_different_groups_see_different_gaps(ctx: Ctx) -> None:
    fin = {g["topic"] for g in ctx.call("fin-owner", "GET", "/api/gaps").json()}
    hr = {g["topic"] for g in ctx.call("hr-owner", "GET", "/api/gaps").json()}
    assert GAPS["fin-agent"] in fin and GAPS["fin-agent"] not in hr
    assert GAPS["hr-agent"] in hr and GAPS["hr-agent"] not in fin
    assert GAPS["agent"] in fin and GAPS["agent"] in hr


def test_a_thumbs_down_gap_keeps_the_askers_groups(ctx: Ctx) -> None:
    question = "ZQX-GAPDOWN-9004 install the VPN client on the company laptop"
    answer = ctx.call("fin-agent", "POST", "/api/ask", {"question": question}).json()
    assert answer["answered"]
    sent = ctx.call("fin-agent", "POST", "/api/feedback",
                    {"answer_id": answer["answer_id"], "helpful": False})
    assert sent.status_code == 200
    assert question in ctx.call("fin-owner", "GET", "/api/gaps").text
    assert question not in ctx.call("hr-owner", "GET", "/api/gaps").text


def test_an_access_gap_goes_to_those_who_may_see_the_article_it_points_at(ctx: Ctx) -> None:
    """A user of no group asks what only the HR article answers: the gap says that a
    restricted article covers it, so HR's owner sees it and finance's does not."""
    question = "Revoke the leaver's badge on the last working day before noon"
    assert not ctx.call("agent", "POST", "/api/ask", {"question": question}).json()["answered"]
    hr = [g for g in ctx.call("hr-owner", "GET", "/api/gaps").json() if g["topic"] == question]
    assert hr and hr[0]["reasons"] == {"access": 1}
    assert question not in ctx.call("fin-owner", "GET", "/api/gaps").text
    assert question not in ctx.call("owner", "GET", "/api/gaps").text
    assert question in ctx.call("admin", "GET", "/api/gaps").text


@pytest.mark.parametrize("who", [None, *USERS])
def test_healthz_names_no_marker(ctx: Ctx, who: str | None) -> None:
    response = ctx.call(who, "GET", "/healthz")
    assert response.status_code == 200 and leaked(response.text) == set()


@pytest.mark.parametrize("who", [None, "agent", "owner"])
def test_healthz_tells_no_article_count_to_those_who_may_not_see_metrics(
        ctx: Ctx, who: str | None) -> None:
    assert ctx.call(who, "GET", "/healthz").json() == {"status": "ok"}


# --- the CLI: ``kb ask --groups`` answers by the groups given; ``kb flags`` and ``kb gaps``
# are the operator's (whoever can read the data dir reads everything, as an admin does)

def run_kb(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
           ctx: Ctx, *argv: str) -> str:
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    capsys.readouterr()
    assert kb_main([*argv, "--data-dir", str(ctx.kb.data_dir)]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(("groups", "allowed"), [
    ("", set()), ("finance", {FIN}), ("hr", {HR}), ("finance,hr", {FIN, HR})])
def test_cli_ask_by_groups(ctx: Ctx, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch, groups: str,
                           allowed: set[str]) -> None:
    seen = "".join(run_kb(capsys, monkeypatch, ctx, "ask", q, "--groups", groups, *fmt)
                   for q in QUESTIONS.values() for fmt in ((), ("--json",)))
    assert leaked(seen) == allowed


def test_cli_flags_and_gaps_are_the_operators(ctx: Ctx, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    flags = run_kb(capsys, monkeypatch, ctx, "flags", "--json", "--state", "all")
    assert {f["article_id"] for f in json.loads(flags)} >= {PUBLIC, TWIN, UNCLEAR}
    gaps = run_kb(capsys, monkeypatch, ctx, "gaps", "--json")
    assert all(q in gaps for q in GAPS.values())
