"""The JSON API against a real uvicorn server: every route, every role, permission filtering,
feedback turning into a flag, and bad requests getting a 4xx with a clear detail."""

from __future__ import annotations

import json

import httpx
import pytest

from assistant import users
from core.paths import state_db
from core.store import state as state_store
from tests.assistant.web.conftest import XSS_ARTICLE, Server, login

pytestmark = pytest.mark.integration

RESTRICTED_HR = "onboarding/leaver-process-confidential.md"
API_ROUTES = [("POST", "/api/ask"), ("POST", "/api/ask/stream"), ("POST", "/api/feedback"),
              ("GET", "/api/articles/network/vpn-cannot-connect.md"), ("GET", "/api/flags"),
              ("POST", "/api/flags/0123456789abcdef/actions"), ("GET", "/api/gaps"),
              ("GET", "/api/metrics"), ("GET", "/api/me"), ("POST", "/api/logout")]
ASK_KEYS = {"answered", "answer", "confidence", "citations", "related", "note", "answer_id",
            "escalation", "other_cases"}


def ask(server: Server, who: str, question: str) -> dict:
    with server.client(who) as client:
        response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


def test_healthz_needs_no_sign_in(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_every_api_route_is_401_without_credentials(server: Server, method: str,
                                                    path: str) -> None:
    with server.client() as client:
        response = client.request(method, path, json={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "sign in" in response.json()["detail"]


def test_bad_bearer_token_is_401(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/me", headers={"Authorization": "Bearer kb_nope"})
    assert response.status_code == 401


def test_ask_returns_the_kb_ask_json_shape_with_citations(server: Server) -> None:
    body = ask(server, "agent", "VPN keeps disconnecting every few minutes")
    assert set(body) == ASK_KEYS
    assert body["answered"] is True
    assert body["citations"][0]["article_id"] == "network/vpn-disconnects-frequently.txt"
    assert "[1]" in body["answer"]
    assert set(body["citations"][0]) == {"n", "article_id", "title", "section", "url",
                                         "last_reviewed", "stale", "stale_reason", "snippet",
                                         "warning"}


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_stream_sends_lines_then_citations_then_done(server: Server) -> None:
    question = "How do I clear a stuck print queue?"
    with server.client("agent") as client:
        response = client.post("/api/ask/stream", json={"question": question})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [e for e, _ in events]
    assert names[0] == "status" and names[-2:] == ["citations", "done"]
    tokens = [d["text"] for e, d in events if e == "token"]
    assert len(tokens) > 2
    citations = events[-2][1]
    assert citations["answered"] is True and citations["citations"]
    assert "answer" not in citations and citations["answer_id"] == events[-1][1]["answer_id"]
    assert ask(server, "agent", question)["answer"] == "".join(tokens).rstrip("\n")


def test_not_covered_answer_lists_no_noise_and_becomes_a_gap(server: Server) -> None:
    body = ask(server, "agent", "What is the canteen menu on Fridays?")
    assert body["answered"] is False and body["citations"] == []
    assert body["answer"] == "The knowledge base doesn't cover this."
    assert body["related"] == []  # nothing in the KB is near a canteen menu
    assert (body["escalation"], body["other_cases"]) == (None, [])
    with server.client("owner") as client:
        gaps = client.get("/api/gaps").json()
    assert any("canteen menu" in q for g in gaps for q in g["examples"])


@pytest.mark.parametrize(("who", "allowed"), [
    ("agent", set()), ("owner", {"flags", "gaps"}), ("lead", {"metrics"}),
    ("admin", {"flags", "gaps", "metrics"})])
def test_roles_decide_what_each_user_may_read(server: Server, who: str, allowed: set) -> None:
    with server.client(who) as client:
        for name in ("flags", "gaps", "metrics"):
            response = client.get(f"/api/{name}")
            assert response.status_code == (200 if name in allowed else 403), (who, name)
        assert client.get("/api/articles/network/vpn-cannot-connect.md").status_code == 200
        assert client.get("/api/me").json()["role"] == who.replace("hr-", "")


def test_restricted_article_is_404_outside_its_group(server: Server) -> None:
    path = f"/api/articles/{RESTRICTED_HR}"
    with server.client("agent") as client:
        hidden = client.get(path)
    assert hidden.status_code == 404 and "no article" in hidden.json()["detail"]
    with server.client("hr-agent") as client:
        assert client.get(path).status_code == 200
    with server.client("agent") as client:
        assert client.get("/api/articles/no/such/article.md").status_code == 404


def test_answers_are_filtered_by_the_users_groups(server: Server) -> None:
    question = "confidential leaver process for HR"
    cited = {c["article_id"] for c in ask(server, "agent", question)["citations"]}
    related = {r["article_id"] for r in ask(server, "agent", question)["related"]}
    assert RESTRICTED_HR not in cited | related
    hr = ask(server, "hr-agent", question)
    assert RESTRICTED_HR in {c["article_id"] for c in hr["citations"]} | {
        r["article_id"] for r in hr["related"]}


def test_flags_on_a_restricted_article_stay_within_its_group(server: Server) -> None:
    body = ask(server, "hr-agent", "same-day dismissal: who calls the IAM duty phone ext. 4410?")
    assert RESTRICTED_HR in {c["article_id"] for c in body["citations"]}
    with server.client("hr-agent") as client:
        response = client.post("/api/feedback", json={"answer_id": body["answer_id"], "reports": [
            {"article_id": RESTRICTED_HR, "kind": "wrong"}]})
    assert response.status_code == 200
    flag_id = response.json()["flags_opened"][0]
    with server.client("owner") as client:
        assert flag_id in {f["id"] for f in client.get("/api/flags").json()["items"]}
    with server.client("it-owner") as client:
        listed = client.get("/api/flags", params={"state": ""}).json()
        assert flag_id not in {f["id"] for f in listed["items"]}
        assert RESTRICTED_HR not in {f["article_id"] for f in listed["items"]}
        assert client.get(f"/api/flags/{flag_id}/history").status_code == 404
        assert client.post(f"/api/flags/{flag_id}/actions",
                           json={"action": "acknowledge"}).status_code == 404


def test_article_sections_are_sanitised_and_anchored(server: Server) -> None:
    with server.client("agent") as client:
        article = client.get(f"/api/articles/{XSS_ARTICLE}").json()
    html = "".join(s["html"] for s in article["sections"])
    assert "<script" not in html and "<img" not in html and "<a href=\"javascript" not in html
    assert "&lt;script&gt;" in html
    assert [s["anchor"] for s in article["sections"]] == ["", "resolution"]
    assert "<ol><li>Ask the caller" in article["sections"][1]["html"]


def test_wrong_report_opens_a_flag_for_the_owner(server: Server) -> None:
    body = ask(server, "agent", "My mailbox is full and I cannot send email")
    cited = body["citations"][0]["article_id"]
    with server.client("agent") as client:
        response = client.post("/api/feedback", json={
            "answer_id": body["answer_id"], "helpful": False, "comment": "quota is 100 GB now",
            "reports": [{"article_id": cited, "kind": "outdated", "comment": "quota changed"}]})
    assert response.status_code == 200, response.text
    opened = response.json()["flags_opened"]
    assert len(opened) == 1
    with server.client("owner") as client:
        flags = client.get("/api/flags", params={"kind": "reported"}).json()["items"]
        gaps = client.get("/api/gaps").json()
    flag = next(f for f in flags if f["id"] == opened[0])
    assert flag["article_id"] == cited and flag["severity"] == "high" and flag["state"] == "open"
    assert flag["evidence"]["key"] == "outdated" and flag["evidence"]["comments"] == [
        "quota changed"]
    # a thumbs-down and a report on one answer are one answer with negative feedback
    assert flag["cited"] >= 1 and flag["negative_feedback"] >= 1
    assert any(g["reasons"].get("not_helpful") for g in gaps)
    with server.client("agent") as client:
        article = client.get(f"/api/articles/{cited}").json()
    assert any(f["kind"] == "reported" for f in article["flags"])


def test_flag_actions_and_history(server: Server) -> None:
    with server.client("owner") as client:
        items = client.get("/api/flags").json()["items"]
        flag = next(f for f in items if f["kind"] == "unstructured")
        url = f"/api/flags/{flag['id']}/actions"
        acked = client.post(url, json={"action": "acknowledge"}).json()
        assert acked["state"] == "acknowledged"
        no_reason = client.post(url, json={"action": "dismiss"})
        assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
        dismissed = client.post(url, json={"action": "dismiss", "reason": "short on purpose"})
        assert dismissed.json()["state"] == "dismissed"
        moved = client.post(url, json={"action": "reassign", "owner": "kim@northwind.example"})
        assert moved.json()["owner"] == "kim@northwind.example"
        history = client.get(f"/api/flags/{flag['id']}/history").json()
        active = {f["id"] for f in client.get("/api/flags").json()["items"]}
        by_owner = client.get("/api/flags", params={"owner": "kim@northwind.example",
                                                    "state": ""}).json()
    assert [(e["kind"], e["to_state"]) for e in history][-3:] == [
        ("unstructured", "acknowledged"), ("unstructured", "dismissed"),
        ("owner", "kim@northwind.example")]
    assert all(e["by"] == "owner" for e in history[-3:])
    assert flag["id"] not in active
    assert flag["id"] in {f["id"] for f in by_owner["items"]}


def test_mark_reviewed_closes_a_stale_flag(server: Server) -> None:
    with server.client("admin") as client:
        stale = list(client.get("/api/flags", params={"kind": "stale"}).json()["items"])
        assert stale, "kb_samples has stale articles"
        done = client.post(f"/api/flags/{stale[0]['id']}/actions", json={"action": "reviewed"})
        assert done.status_code == 200 and done.json()["state"] == "fixed"
        left = {f["id"] for f in client.get("/api/flags", params={"kind": "stale"}).json()[
            "items"]}
        article = client.get(f"/api/articles/{stale[0]['article_id']}").json()
    assert stale[0]["id"] not in left and article["stale"] is False


def test_metrics_report_the_service_desk_kpis(server: Server) -> None:
    ask(server, "agent", "How do I set up out of office replies?")
    with server.client("lead") as client:
        m = client.get("/api/metrics").json()
    assert m["totals"]["questions"] >= 1 and len(m["per_day"]) == 30
    assert m["per_day"][-1]["questions"] >= 1
    # the dashboard counts what its viewer may see: the lead (no groups) not the 7 restricted
    # or out-of-service articles, the admin all 52
    assert m["health"]["articles"] == 45 and m["health"]["open_flags"] > 0
    with server.client("admin") as client:
        assert client.get("/api/metrics").json()["health"]["articles"] == 52
    assert {"helpful_rate", "answer_rate", "stale_share"} <= set(m["totals"])
    assert m["most_cited"] and m["most_cited"][0]["count"] >= 1


@pytest.mark.parametrize(("body", "where"), [
    ({}, "question"), ({"question": ""}, "question"), ({"question": "   "}, "question"),
    ({"question": "x" * 1001}, "at most 1000"), ({"question": 5}, "valid string"),
    ({"question": "vpn", "k": "5"}, "valid integer"), ({"question": "vpn", "k": 500}, "k"),
    ({"question": "vpn", "colour": "red"}, "colour"), (["vpn"], "valid dictionary")])
def test_bad_ask_requests_get_422_with_a_clear_detail(server: Server, body: object,
                                                      where: str) -> None:
    with server.client("agent") as client:
        response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    assert where in response.json()["detail"]


def test_malformed_and_oversize_bodies(server: Server) -> None:
    with server.client("agent") as client:
        broken = client.post("/api/ask", content=b"{not json",
                             headers={"content-type": "application/json"})
        huge = client.post("/api/ask", json={"question": "x" * 70_000})
    assert broken.status_code == 422 and "JSON" in broken.json()["detail"]
    assert huge.status_code == 413


@pytest.mark.parametrize(("body", "status", "where"), [
    ({"answer_id": "0" * 32}, 422, "helpful"),
    ({"answer_id": "0" * 32, "helpful": "yes"}, 422, "valid boolean"),
    ({"answer_id": "nope", "helpful": True}, 422, "answer_id"),
    ({"answer_id": "0" * 32, "helpful": True}, 404, "no answer"),
    ({"answer_id": "0" * 32, "reports": [{"article_id": "a.md", "kind": "bad"}]}, 422, "kind")])
def test_bad_feedback_gets_4xx(server: Server, body: dict, status: int, where: str) -> None:
    with server.client("agent") as client:
        response = client.post("/api/feedback", json=body)
    assert response.status_code == status and where in response.json()["detail"]


def test_report_on_an_article_the_answer_did_not_cite_is_refused(server: Server) -> None:
    body = ask(server, "agent", "VPN keeps disconnecting every few minutes")
    with server.client("agent") as client:
        response = client.post("/api/feedback", json={"answer_id": body["answer_id"], "reports": [
            {"article_id": "printing/add-network-printer.md", "kind": "wrong"}]})
    assert response.status_code == 422 and "not cited" in response.json()["detail"]


def test_bad_flag_actions(server: Server) -> None:
    with server.client("owner") as client:
        flag = client.get("/api/flags").json()["items"][0]
        unknown = client.post(f"/api/flags/{flag['id']}/actions", json={"action": "burn"})
        missing = client.post("/api/flags/ffffffffffffffff/actions", json={"action": "reopen"})
        no_owner = client.post(f"/api/flags/{flag['id']}/actions", json={"action": "reassign"})
    assert unknown.status_code == 422 and "action" in unknown.json()["detail"]
    assert missing.status_code == 404
    assert no_owner.status_code == 422 and "owner" in no_owner.json()["detail"]


def test_session_cookie_login_csrf_and_logout(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        response = login(client, "agent")
        assert response.status_code == 200
        cookies = response.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("kb_session="))
        assert "HttpOnly" in session and "SameSite=strict" in session
        csrf = response.json()["csrf_token"]
        assert client.get("/api/me").json()["name"] == "agent"
        no_token = client.post("/api/ask", json={"question": "vpn"})
        assert no_token.status_code == 403 and "CSRF" in no_token.json()["detail"]
        other_site = client.post("/api/ask", json={"question": "vpn"}, headers={
            "X-CSRF-Token": csrf, "Origin": "http://evil.example"})
        assert other_site.status_code == 403
        ok = client.post("/api/ask", json={"question": "vpn disconnects"},
                         headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200
        old = client.cookies.get("kb_session")
        assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    with httpx.Client(base_url=server.url, cookies={"kb_session": old}) as client:
        assert client.get("/api/me").status_code == 401


def test_login_failures_are_generic_and_rate_limited(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert login(client, "lead", "wrong-password").status_code == 401
        assert login(client, "nobody", "wrong-password").json()["detail"] == \
            "wrong user name or password"
        form = client.post("/api/login", data={"username": "lead", "password": "x"})
        assert form.status_code == 422
        for _ in range(4):
            login(client, "lead", "wrong-password")
        limited = login(client, "lead")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0


def test_revoked_token_is_refused(server: Server) -> None:
    state = state_store.connect(state_db(server.data_dir))
    users.add_user(state, "temp-agent", "agent", frozenset(), "temp-password")
    token = users.issue_token(state, "temp-agent")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}/api/me", headers=headers).status_code == 200
    users.revoke_tokens(state, "temp-agent")
    assert httpx.get(f"{server.url}/api/me", headers=headers).status_code == 401


def test_pages_check_sign_in_and_role(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert client.get("/").status_code == 303
        assert client.get("/review").headers["location"] == "/login?next=/review"
        assert client.get("/login").status_code == 200
        login(client, "agent")
        assert client.get("/").status_code == 200
        assert client.get("/review").status_code == 403
        assert client.get("/dashboard").status_code == 403
    with httpx.Client(base_url=server.url, timeout=60) as client:
        login(client, "owner")
        assert client.get("/review").status_code == 200
        assert client.get("/gaps").status_code == 200
        assert client.get("/dashboard").status_code == 403
        page = client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_docs_and_pages_load_nothing_from_elsewhere(server: Server) -> None:
    docs = httpx.get(f"{server.url}/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in docs and "cdn" not in docs
    assert httpx.get(f"{server.url}/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert httpx.get(f"{server.url}/openapi.json").json()["paths"]["/api/ask"]
    for name in ("login.html", "chat.html", "review.html", "gaps.html", "dashboard.html",
                 "common.js", "chat.js", "app.css"):
        text = httpx.get(f"{server.url}/static/{name}").text
        assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text
