"""Every route x every role, in-process: FastAPI's TestClient over kb_samples/ ingested with the
HashingEmbedder (no model, no uvicorn, no browser), so it runs in ``make test-fast``.

The real-server tests (test_web_api.py, integration) check answers with the real model; these
check who may call what, the status codes and error details, the SSE event order, the cookie
sign-in with its CSRF token, and group filtering of articles, all through HTTP only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.assistant.web.fast_app import PASSWORD, FastKb, add_users, build_data_dir, fast_app

ROLES = (None, "agent", "owner", "lead", "admin")  # None: anonymous
ARTICLE = "network/vpn-cannot-connect.md"
RESTRICTED_HR = "onboarding/leaver-process-confidential.md"  # groups: [hr]
DRAFT = "endpoint/windows-11-upgrade-faq.md"
#: answered with the HashingEmbedder, citing network/vpn-disconnects-frequently.txt first
ANSWERED = "VPN keeps disconnecting every few minutes"
NOT_COVERED = "What is the canteen menu on Fridays?"
ASK_KEYS = {"answered", "answer", "confidence", "citations", "related", "note", "answer_id",
            "escalation", "other_cases"}

# The matrix: expected status per caller. {flag} is a flag every owner sees (see `ctx`).
#   method  path                                anonymous agent owner lead admin
MATRIX = [
    ("POST", "/api/login",                          401, 200, 200, 200, 200),
    ("POST", "/api/logout",                         401, 204, 204, 204, 204),
    ("GET", "/api/me",                              401, 200, 200, 200, 200),
    ("POST", "/api/ask",                            401, 200, 200, 200, 200),
    ("POST", "/api/ask/stream",                     401, 200, 200, 200, 200),
    ("POST", "/api/feedback",                       401, 200, 200, 200, 200),
    ("POST", "/api/route",                          401, 409, 409, 409, 409),  # no model
    ("GET", f"/api/articles/{ARTICLE}",             401, 200, 200, 200, 200),
    ("GET", "/api/flags",                           401, 403, 200, 403, 200),
    ("POST", "/api/flags/{flag}/actions",           401, 403, 200, 403, 200),
    ("GET", "/api/flags/{flag}/history",            401, 403, 200, 403, 200),
    ("GET", "/api/gaps",                            401, 403, 200, 403, 200),
    ("GET", "/api/demand",                          401, 403, 200, 403, 200),
    ("GET", "/api/metrics",                         401, 403, 403, 200, 200),
    ("GET", "/api/sources",                         401, 403, 403, 403, 200),
    ("GET", "/healthz",                             200, 200, 200, 200, 200),
    ("GET", "/",                                    303, 200, 200, 200, 200),
    ("GET", "/review",                              303, 403, 200, 403, 200),
    ("GET", "/gaps",                                303, 403, 200, 403, 200),
    ("GET", "/dashboard",                           303, 403, 403, 200, 200),
    ("GET", "/sources",                             303, 403, 403, 403, 200),
    ("GET", f"/articles/{ARTICLE}",                 303, 200, 200, 200, 200),
    ("GET", "/docs",                                200, 200, 200, 200, 200),
    ("GET", "/openapi.json",                        200, 200, 200, 200, 200),
    ("GET", "/login",                               200, 200, 200, 200, 200),
]
CASES = [pytest.param(method, path, role, status, id=f"{method} {path} as {role or 'anonymous'}")
         for method, path, *statuses in MATRIX for role, status in zip(ROLES, statuses,
                                                                       strict=True)]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, FastKb]]:
    """The app over kb_samples/, its lifespan running, with the users of fast_app.USERS."""
    data_dir = build_data_dir(tmp_path_factory.mktemp("web-fast"))
    with TestClient(fast_app(data_dir), follow_redirects=False) as client:
        yield client, add_users(data_dir)


@pytest.fixture
def client(served: tuple[TestClient, FastKb]) -> Iterator[TestClient]:
    """The module's client with an empty cookie jar: callers are told by their headers only."""
    served[0].cookies.clear()
    yield served[0]
    served[0].cookies.clear()


class Ctx:
    """The module's client and data, plus the ids the matrix needs (an answer per role, a
    flag)."""

    def __init__(self, client: TestClient, kb: FastKb) -> None:
        self.client, self.kb = client, kb
        self.answer_ids = {role: self.ask(role, ANSWERED)["answer_id"] for role in ROLES if role}
        self.answer_id = self.answer_ids["agent"]
        flags = self.get("owner", "/api/flags").json()["items"]
        assert flags, "kb_samples has stale and expired articles, so the queue is not empty"
        self.flag_id = flags[0]["id"]

    def request(self, who: str | None, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.kb.auth(who), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, who: str | None, path: str, **kwargs: Any) -> Any:
        return self.request(who, "GET", path, **kwargs)

    def post(self, who: str | None, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request(who, "POST", path, json=body, **kwargs)

    def ask(self, who: str, question: str) -> dict[str, Any]:
        response = self.post(who, "/api/ask", {"question": question})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def module_ctx(served: tuple[TestClient, FastKb]) -> Ctx:
    return Ctx(*served)


@pytest.fixture
def ctx(module_ctx: Ctx, client: TestClient) -> Ctx:
    return module_ctx


def matrix_body(ctx: Ctx, path: str, role: str | None) -> Any:
    """A valid body for the route, so an allowed caller gets its success status."""
    if path == "/api/login":  # anonymous: a wrong password
        return {"username": role or "agent", "password": PASSWORD if role else "wrong-password"}
    if path.startswith("/api/ask"):
        return {"question": ANSWERED}
    if path == "/api/route":
        return {"text": ANSWERED}
    if path == "/api/feedback":
        return {"answer_id": ctx.answer_ids.get(role or "agent"), "helpful": True}
    if path.endswith("/actions"):
        return {"action": "acknowledge"}
    return None


@pytest.mark.parametrize(("method", "path", "role", "status"), CASES)
def test_route_role_matrix(ctx: Ctx, method: str, path: str, role: str | None,
                           status: int) -> None:
    body = matrix_body(ctx, path, role)
    who = None if path == "/api/login" else role  # login is by password, not by token
    response = ctx.request(who, method, path.format(flag=ctx.flag_id),
                           **({"json": body} if body is not None else {}))
    assert response.status_code == status, response.text[:300]
    if status in (401, 403, 404) and path.startswith("/api/"):
        assert response.json()["detail"]


# --- who is calling -------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "permissions"), [
    ("agent", ["ask"]), ("owner", ["ask", "review", "gaps"]), ("lead", ["ask", "metrics"]),
    ("admin", ["ask", "review", "gaps", "metrics", "sources"])])
def test_me_names_the_user_role_and_permissions(ctx: Ctx, role: str,
                                                permissions: list[str]) -> None:
    assert ctx.get(role, "/api/me").json() == {
        "name": role, "role": role, "groups": [], "permissions": permissions}


def test_anonymous_api_call_is_told_how_to_sign_in(ctx: Ctx) -> None:
    response = ctx.get(None, "/api/flags")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"].startswith("sign in first: POST /api/login")


def test_unknown_bearer_token_is_401(ctx: Ctx) -> None:
    response = ctx.client.get("/api/me", headers={"Authorization": "Bearer kb_not-a-token"})
    assert response.status_code == 401


def test_wrong_role_gets_403_naming_the_role(ctx: Ctx) -> None:
    response = ctx.get("agent", "/api/flags")
    assert response.status_code == 403
    assert response.json() == {"detail": "role 'agent' may not review"}
    assert ctx.get("owner", "/api/metrics").json() == {"detail": "role 'owner' may not metrics"}


def test_bearer_logout_leaves_the_token_valid(ctx: Ctx) -> None:
    assert ctx.post("lead", "/api/logout", None).status_code == 204
    assert ctx.get("lead", "/api/me").status_code == 200


# --- cookie sign-in and CSRF ----------------------------------------------------------------

def test_cookie_sign_in_needs_the_csrf_token_on_state_changes(ctx: Ctx) -> None:
    client = ctx.client
    response = client.post("/api/login", json={"username": "agent", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "agent" and body["role"] == "agent"
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("kb_session="))
    csrf_cookie = next(c for c in cookies if c.startswith("kb_csrf="))
    assert "HttpOnly" in session and "SameSite=strict" in session
    assert "HttpOnly" not in csrf_cookie  # the page's JS reads it
    assert client.cookies["kb_csrf"] == body["csrf_token"]

    assert client.get("/api/me").json()["name"] == "agent"  # a GET needs no CSRF token
    question = {"question": ANSWERED}
    missing = client.post("/api/ask", json=question)
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    wrong = client.post("/api/ask", json=question, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    other_site = client.post("/api/ask", json=question, headers={
        "X-CSRF-Token": body["csrf_token"], "Origin": "http://evil.example"})
    assert other_site.status_code == 403
    ok = client.post("/api/ask", json=question, headers={"X-CSRF-Token": body["csrf_token"]})
    assert ok.status_code == 200 and set(ok.json()) == ASK_KEYS

    old_session = client.cookies["kb_session"]
    assert client.post("/api/logout").status_code == 403  # logout changes state too
    out = client.post("/api/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert out.status_code == 204
    assert client.get("/api/me").status_code == 401
    client.cookies.set("kb_session", old_session)
    assert client.get("/api/me").status_code == 401  # the session ended on the server


def test_pages_accept_the_session_cookie(ctx: Ctx) -> None:
    assert ctx.client.post("/api/login", json={"username": "owner", "password": PASSWORD}
                           ).status_code == 200
    assert ctx.client.get("/review").status_code == 200
    assert ctx.client.get("/dashboard").status_code == 403


def test_login_failures_are_generic(ctx: Ctx) -> None:
    wrong = ctx.client.post("/api/login", json={"username": "lead", "password": "nope-nope"})
    nobody = ctx.client.post("/api/login", json={"username": "nobody", "password": "nope-nope"})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json() == {"detail": "wrong user name or password"}
    assert "kb_session" not in ctx.client.cookies


def test_login_from_another_site_is_refused(ctx: Ctx) -> None:
    response = ctx.client.post("/api/login", json={"username": "agent", "password": PASSWORD},
                               headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert response.json() == {"detail": "login from another site refused"}


def test_login_is_throttled_after_five_failures(ctx: Ctx) -> None:
    for _ in range(5):
        failed = ctx.client.post("/api/login", json={"username": "throttled",
                                                     "password": "wrong-password"})
        assert failed.status_code == 401
    limited = ctx.client.post("/api/login", json={"username": "throttled",
                                                  "password": PASSWORD})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.json()["detail"].startswith("too many failed sign-ins")


def test_login_body_must_be_json(ctx: Ctx) -> None:
    response = ctx.client.post("/api/login", data={"username": "agent", "password": PASSWORD})
    assert response.status_code == 422


# --- pages ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/review", "/gaps", "/dashboard", f"/articles/{ARTICLE}"])
def test_anonymous_page_redirects_to_login_with_next(ctx: Ctx, path: str) -> None:
    response = ctx.get(None, path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


def test_wrong_role_page_is_a_403_page(ctx: Ctx) -> None:
    response = ctx.get("agent", "/review")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "No access" in response.text


def test_pages_and_api_carry_the_security_headers(ctx: Ctx) -> None:
    page = ctx.get("agent", "/")
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert ctx.get("agent", "/api/me").headers["cache-control"] == "no-store"


def test_docs_are_served_from_local_assets(ctx: Ctx) -> None:
    docs = ctx.get(None, "/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in docs and "cdn" not in docs
    assert ctx.get(None, "/docs-assets/swagger-ui-bundle.js").status_code == 200
    paths = ctx.get(None, "/openapi.json").json()["paths"]
    assert {"/api/ask", "/api/ask/stream", "/api/feedback", "/api/flags", "/api/gaps",
            "/api/metrics", "/api/login", "/api/logout", "/api/me", "/healthz"} <= set(paths)


def test_healthz_counts_the_kb_samples_for_metrics_users_only(ctx: Ctx) -> None:
    for who in ("lead", "admin"):
        body = ctx.get(who, "/healthz").json()
        assert body["status"] == "ok" and body["articles"] == 50
        assert body["chunks"] >= body["articles"] and body["index"]
    for who in (None, "agent", "owner"):
        assert ctx.get(who, "/healthz").json() == {"status": "ok"}


# --- asking ---------------------------------------------------------------------------------

def test_ask_returns_the_kb_ask_json_shape(ctx: Ctx) -> None:
    body = ctx.ask("agent", ANSWERED)
    assert set(body) == ASK_KEYS
    assert body["answered"] is True and "[1]" in body["answer"]
    assert body["citations"][0]["article_id"] == "network/vpn-disconnects-frequently.txt"
    assert len(body["answer_id"]) == 32


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields["event"], json.loads(fields["data"])))
    return events


@pytest.mark.parametrize("question", [ANSWERED, NOT_COVERED])
def test_stream_sends_status_tokens_citations_done(ctx: Ctx, question: str) -> None:
    response = ctx.post("agent", "/api/ask/stream", {"question": question})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "status" and names[-2:] == ["citations", "done"]
    assert set(names[1:-2]) == {"token"}
    assert events[0][1] == {"stage": "searching"}
    citations, done = events[-2][1], events[-1][1]
    assert "answer" not in citations and citations["answer_id"] == done["answer_id"]
    tokens = "".join(data["text"] for name, data in events if name == "token")
    assert tokens.rstrip("\n") == ctx.ask("agent", question)["answer"]


def test_not_covered_question_becomes_a_gap(ctx: Ctx) -> None:
    body = ctx.ask("agent", NOT_COVERED)
    assert body["answered"] is False and body["citations"] == []
    assert body["answer"] == "The knowledge base doesn't cover this."
    gaps = ctx.get("owner", "/api/gaps").json()
    gap = next(g for g in gaps if NOT_COVERED in g["examples"])
    assert gap["reasons"].get("not_covered", 0) >= 1


BAD_ASKS = [
    ({}, "body.question: Field required"),
    ({"question": "x" * 1001}, "body.question: String should have at most 1000 characters"),
    ({"question": "   "}, "body.question: String should have at least 1 character"),
    ({"question": 5}, "body.question: Input should be a valid string"),
    ({"question": "vpn", "k": 500}, "body.k: Input should be less than or equal to 20"),
    ({"question": "vpn", "colour": "red"}, "body.colour: Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("body", "detail"), BAD_ASKS)
def test_bad_ask_body_is_422_with_a_readable_detail(ctx: Ctx, body: Any, detail: str) -> None:
    response = ctx.post("agent", "/api/ask", body)
    assert response.status_code == 422
    assert response.json()["detail"] == detail


def test_malformed_json_is_422(ctx: Ctx) -> None:
    response = ctx.post("agent", "/api/ask", None, content=b"{not json",
                        headers={"content-type": "application/json"})
    assert response.status_code == 422 and "JSON" in response.json()["detail"]


@pytest.mark.parametrize("who", [None, "agent"])
def test_body_over_64_kb_is_413(ctx: Ctx, who: str | None) -> None:
    response = ctx.post(who, "/api/ask", {"question": "x" * 70_000})
    assert response.status_code == 413
    assert response.json() == {"detail": "request body over 65536 bytes"}


# --- feedback and flags ---------------------------------------------------------------------

@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"answer_id": "0" * 32, "helpful": True}, 404, "no answer " + "0" * 32),
    ({"answer_id": "0" * 32}, 422, "give 'helpful' (true/false) or at least one citation"),
    ({"answer_id": "nope", "helpful": True}, 422, "body.answer_id: String should match"),
    ({"answer_id": "0" * 32, "reports": [{"article_id": "a.md", "kind": "bad"}]}, 422,
     "body.reports.0.kind: Input should be 'wrong' or 'outdated'")])
def test_bad_feedback_is_refused(ctx: Ctx, body: dict, status: int, detail: str) -> None:
    response = ctx.post("agent", "/api/feedback", body)
    assert response.status_code == status
    assert detail in response.json()["detail"]


def test_report_on_an_article_not_cited_is_422(ctx: Ctx) -> None:
    response = ctx.post("agent", "/api/feedback", {"answer_id": ctx.answer_id, "reports": [
        {"article_id": "printing/add-network-printer.md", "kind": "wrong"}]})
    assert response.status_code == 422
    assert response.json() == {"detail": "article 'printing/add-network-printer.md' is not "
                                         "cited by this answer"}


def test_report_opens_a_flag_the_owner_can_act_on(ctx: Ctx) -> None:
    answer = ctx.ask("agent", ANSWERED)
    cited = answer["citations"][0]["article_id"]
    response = ctx.post("agent", "/api/feedback", {"answer_id": answer["answer_id"], "reports": [
        {"article_id": cited, "kind": "outdated", "comment": "the timeout changed"}]})
    assert response.status_code == 200
    assert response.json()["recorded"] is True
    [flag_id] = response.json()["flags_opened"]

    reported = ctx.get("owner", "/api/flags", params={"kind": "reported"}).json()["items"]
    flag = next(f for f in reported if f["id"] == flag_id)
    assert (flag["article_id"], flag["severity"], flag["state"]) == (cited, "high", "open")
    url = f"/api/flags/{flag_id}/actions"
    no_reason = ctx.post("owner", url, {"action": "dismiss"})
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    unknown = ctx.post("owner", url, {"action": "burn"})
    assert unknown.status_code == 422 and "body.action" in unknown.json()["detail"]
    dismissed = ctx.post("owner", url, {"action": "dismiss", "reason": "fixed upstream"})
    assert dismissed.status_code == 200 and dismissed.json()["state"] == "dismissed"
    history = ctx.get("owner", f"/api/flags/{flag_id}/history").json()
    assert (history[-1]["kind"], history[-1]["to_state"], history[-1]["by"]) == (
        "reported", "dismissed", "owner")
    active = {f["id"] for f in ctx.get("owner", "/api/flags").json()["items"]}
    everything = {f["id"] for f in ctx.get("owner", "/api/flags", params={"state": ""}
                                           ).json()["items"]}
    assert flag_id not in active and flag_id in everything


@pytest.mark.parametrize("path", ["/api/flags/ffffffffffffffff/history",
                                  "/api/flags/ffffffffffffffff/actions"])
def test_unknown_flag_is_404(ctx: Ctx, path: str) -> None:
    method = "POST" if path.endswith("actions") else "GET"
    response = ctx.request("admin", method, path, json={"action": "reopen"})
    assert response.status_code == 404
    assert response.json() == {"detail": "no flag 'ffffffffffffffff'"}


def test_metrics_have_one_row_per_day_asked_for(ctx: Ctx) -> None:
    ctx.ask("agent", ANSWERED)
    default = ctx.get("lead", "/api/metrics").json()
    assert len(default["per_day"]) == 30 and default["totals"]["questions"] >= 1
    assert ctx.get("admin", "/api/metrics").json()["health"]["articles"] == 50  # admin: all
    assert len(ctx.get("lead", "/api/metrics", params={"days": 7}).json()["per_day"]) == 7
    assert ctx.get("lead", "/api/metrics", params={"days": 0}).status_code == 422


# --- articles and groups --------------------------------------------------------------------

@pytest.mark.parametrize(("who", "status"), [
    ("agent", 404), ("owner", 404), ("lead", 404), ("hr-agent", 200), ("admin", 200)])
def test_restricted_article_exists_only_for_its_groups(ctx: Ctx, who: str, status: int) -> None:
    response = ctx.get(who, f"/api/articles/{RESTRICTED_HR}")
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"detail": f"no article {RESTRICTED_HR!r}"}
    else:
        assert response.json()["id"] == RESTRICTED_HR and response.json()["groups"] == ["hr"]


def test_hidden_article_looks_like_a_missing_one(ctx: Ctx) -> None:
    hidden = ctx.get("agent", f"/api/articles/{RESTRICTED_HR}")
    missing = ctx.get("agent", "/api/articles/no/such/article.md")
    assert hidden.status_code == missing.status_code == 404
    assert set(hidden.json()) == set(missing.json()) == {"detail"}
    assert missing.json()["detail"] == "no article 'no/such/article.md'"


@pytest.mark.parametrize(("who", "status"), [
    ("agent", 404), ("lead", 404), ("owner", 200), ("admin", 200)])
def test_draft_article_is_for_owners_and_admins(ctx: Ctx, who: str, status: int) -> None:
    assert ctx.get(who, f"/api/articles/{DRAFT}").status_code == status


def test_article_comes_as_anchored_sections(ctx: Ctx) -> None:
    body = ctx.get("agent", f"/api/articles/{ARTICLE}").json()
    assert body["id"] == ARTICLE and body["groups"] == [] and body["status"] == "published"
    assert body["sections"] and all(set(s) == {"anchor", "heading", "path", "level", "html"}
                                    for s in body["sections"])
    assert "<script" not in "".join(s["html"] for s in body["sections"])
