"""A local Zendesk Guide: the part of the Help Center REST API that kb's connector reads.

Paths, parameters and payloads follow developer.zendesk.com (Help Center API): cursor pages
(``page[size]``, ``page[after]``; ``meta.has_more``, ``meta.after_cursor``, ``links.next``),
offset pages when ``page[size]`` is absent (``page``, ``per_page``, ``next_page``), and the
time-based incremental export (``start_time``; ``articles``, ``next_page``, ``end_time``,
``count``; its next page starts at the last article's change, so that article comes again).
Auth is basic ``EMAIL/token:TOKEN`` or an OAuth bearer token; anything else gets 401.

Tests drive it: add/edit/archive/delete articles, translations, segment and section changes,
``fail_next(status, n)``, ``rate_limit_next(seconds)``, ``fail_after_pages(k)``, and
``generate(n)`` synthetic articles. Standalone::

    python -m tests.sources.fake_zendesk --port 8765 --records 50
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

EMAIL = "agent@acme.com"
TOKEN = "zd-api-token-7f3a9c"
OAUTH = "zd-oauth-bearer-51be"
START = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
CATEGORIES = {1: "IT Services", 2: "People"}
#: id -> (name, category_id, parent_section_id)
SECTIONS = {11: ("VPN & Remote Access", 1, None), 12: ("Email", 1, None),
            13: ("Onboarding", 2, None), 14: ("Certificates", 1, 11)}
SEGMENTS = {101: ("Signed-in users", "signed_in_users", True),
            102: ("Agents and admins", "staff", True), 103: ("IT Staff", "staff", False)}
USERS = {501: "ana.lopez@acme.com", 502: "raj.patel@acme.com", 503: "kim.berg@acme.com"}


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")


@dataclass
class Article:
    id: int
    title: str
    body: str
    section_id: int
    author_id: int
    updated_at: int
    edited_at: int
    draft: bool = False
    label_names: list[str] = field(default_factory=list)
    user_segment_id: int | None = None
    archived: bool = False
    source_locale: str = "en-us"
    outdated_locales: list[str] = field(default_factory=list)
    #: locale -> {"title", "body", "draft"}
    translations: dict[str, dict[str, Any]] = field(default_factory=dict)


def sample_body(n: int, other: int | None) -> str:
    link = (f'<p>See also <a href="/hc/en-us/articles/{other}">article {other}</a>.</p>'
            if other else "")
    return (f"<h2>Steps</h2><p>Procedure {n} for the service desk.</p>"
            f'<p><img src="/hc/article_attachments/9{n}/step-{n}.png" alt=""></p>'
            "<table><tr><th>Setting</th><th>Value</th></tr>"
            f"<tr><td>Port</td><td>{4430 + n % 10}</td></tr></table>"
            f"<pre>vpnctl connect --profile p{n}</pre>{link}")


class FakeZendesk:
    """The fake platform's state and its HTTP server (``start()``/``stop()``, or ``with``)."""

    def __init__(self, incremental_page_size: int = 1000) -> None:
        self.lock = threading.RLock()
        self.clock = START
        self.articles: dict[int, Article] = {}
        self.sections = dict(SECTIONS)
        self.next_id = 360_001
        self.incremental_page_size = incremental_page_size
        self.failures: list[int] = []
        self.rate_limits: list[float] = []
        self.pages_left: int | None = None
        self.requests: list[str] = []
        self.server: ThreadingHTTPServer | None = None
        self.base_url = ""

    # --- control ---------------------------------------------------------------------------
    def tick(self) -> int:
        self.clock += 60
        return self.clock

    def add(self, title: str, body: str, section_id: int = 11, author_id: int = 501,
            **fields: Any) -> int:
        with self.lock:
            now, article_id = self.tick(), self.next_id
            self.next_id += 1
            self.articles[article_id] = Article(article_id, title, body, section_id, author_id,
                                                now, now, **fields)
            return article_id

    def edit(self, article_id: int, **changes: Any) -> None:
        """Change fields; a title or body change also moves ``edited_at``."""
        with self.lock:
            article, now = self.articles[article_id], self.tick()
            for name, value in changes.items():
                setattr(article, name, value)
            article.updated_at = now
            if {"title", "body"} & set(changes):
                article.edited_at = now

    def archive(self, article_id: int) -> None:
        self.edit(article_id, archived=True)

    def delete(self, article_id: int) -> None:
        with self.lock:
            del self.articles[article_id]

    def translate(self, article_id: int, locale: str, title: str, body: str) -> None:
        with self.lock:
            self.articles[article_id].translations[locale] = {"title": title, "body": body}
        self.edit(article_id)

    def generate(self, n: int) -> list[int]:
        ids: list[int] = []
        for i in range(n):
            section = list(self.sections)[i % len(self.sections)]
            ids.append(self.add(f"How to fix issue {i + 1}", sample_body(i + 1, ids[-1] if ids
                                                                           else None),
                                section_id=section, author_id=list(USERS)[i % len(USERS)],
                                label_names=[f"topic-{i % 5}"],
                                user_segment_id=103 if i % 7 == 3 else None,
                                draft=i % 11 == 5))
        return ids

    def fail_next(self, status: int, n: int = 1) -> None:
        with self.lock:
            self.failures.extend([status] * n)

    def rate_limit_next(self, retry_after_s: float) -> None:
        with self.lock:
            self.rate_limits.append(retry_after_s)

    def fail_after_pages(self, k: int | None) -> None:
        """Serve k more article pages (list or incremental), then HTTP 500 until reset."""
        with self.lock:
            self.pages_left = k

    # --- payloads --------------------------------------------------------------------------
    def article_json(self, a: Article, locale: str) -> dict[str, Any] | None:
        text: dict[str, Any] | None = ({"title": a.title, "body": a.body, "draft": a.draft}
                                       if locale == a.source_locale
                                       else a.translations.get(locale))
        if text is None:
            return None
        return {"id": a.id, "url": f"{self.base_url}/api/v2/help_center/{locale}/articles/"
                f"{a.id}.json", "html_url": f"{self.base_url}/hc/{locale}/articles/{a.id}-"
                f"{slug(text['title'])}", "author_id": a.author_id, "comments_disabled": False,
                "draft": bool(text.get("draft", False)), "promoted": False, "position": 0,
                "vote_sum": 0, "vote_count": 0, "section_id": a.section_id,
                "created_at": iso(START), "updated_at": iso(a.updated_at),
                "edited_at": iso(a.edited_at), "name": text["title"], "title": text["title"],
                "source_locale": a.source_locale, "locale": locale, "outdated": False,
                "outdated_locales": list(a.outdated_locales), "permission_group_id": 7,
                "user_segment_id": a.user_segment_id, "user_segment_ids":
                [a.user_segment_id] if a.user_segment_id else [], "content_tag_ids": [],
                "label_names": list(a.label_names), "body": text["body"]}

    def sections_json(self, locale: str) -> list[dict[str, Any]]:
        return [{"id": sid, "name": name, "category_id": cat, "parent_section_id": parent,
                 "locale": locale, "source_locale": "en-us", "outdated": False,
                 "html_url": f"{self.base_url}/hc/{locale}/sections/{sid}"}
                for sid, (name, cat, parent) in self.sections.items()]

    # --- HTTP ------------------------------------------------------------------------------
    def authorized(self, header: str | None) -> bool:
        if not header:
            return False
        kind, _, value = header.partition(" ")
        if kind == "Bearer":
            return value == OAUTH
        try:
            return kind == "Basic" and base64.b64decode(value).decode() == f"{EMAIL}/token:{TOKEN}"
        except ValueError:
            return False

    def respond(self, method_path: str, query: dict[str, list[str]],
                auth: str | None) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.requests.append(method_path + ("?" + urlencode(query, doseq=True)
                                                if query else ""))
            if not self.authorized(auth):
                return 401, {}, {"error": "Couldn't authenticate you"}
            if self.rate_limits:
                return 429, {"Retry-After": f"{self.rate_limits.pop(0):g}"}, {
                    "error": "APIRateLimitExceeded"}
            if self.failures:
                return self.failures.pop(0), {}, {"error": "InternalError"}
            return self.route(method_path, {k: v[-1] for k, v in query.items()})

    def _article_page(self) -> bool:
        if self.pages_left is None:
            return True
        if self.pages_left <= 0:
            return False
        self.pages_left -= 1
        return True

    def route(self, path: str, q: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        path = path.removesuffix(".json")
        if path == "/api/v2/help_center/incremental/articles":
            return self.incremental(q)
        if m := re.fullmatch(r"/api/v2/help_center/([a-z-]+)/articles", path):
            if not self._article_page():
                return 500, {}, {"error": "InternalError"}
            locale = m[1]
            live = [a for _, a in sorted(self.articles.items()) if not a.archived
                    and (locale == a.source_locale or locale in a.translations)]
            return self.paginate(path, "articles", live, q,
                                 lambda a: self.article_json(a, locale))
        if m := re.fullmatch(r"/api/v2/help_center/([a-z-]+)/articles/(\d+)", path):
            a = self.articles.get(int(m[2]))
            shown = self.article_json(a, m[1]) if a and not a.archived else None
            return (200, {}, {"article": shown}) if shown else (
                404, {}, {"error": "RecordNotFound", "description": "Not found"})
        if m := re.fullmatch(r"/api/v2/help_center(?:/([a-z-]+))?/sections", path):
            return self.paginate(path, "sections", self.sections_json(m[1] or "en-us"), q)
        if m := re.fullmatch(r"/api/v2/help_center(?:/([a-z-]+))?/categories", path):
            return self.paginate(path, "categories", [
                {"id": cid, "name": name, "locale": m[1] or "en-us", "outdated": False}
                for cid, name in CATEGORIES.items()], q)
        if path == "/api/v2/help_center/user_segments":
            return self.paginate(path, "user_segments", [
                {"id": sid, "name": name, "user_type": kind, "built_in": built_in,
                 "group_ids": [], "organization_ids": [], "tags": [], "or_tags": [],
                 "added_user_ids": []} for sid, (name, kind, built_in) in SEGMENTS.items()], q)
        if path == "/api/v2/users/show_many":
            ids = [int(x) for x in q.get("ids", "").split(",") if x.strip().isdigit()]
            return 200, {}, {"users": [{"id": uid, "email": USERS[uid], "role": "agent",
                                        "name": USERS[uid].split("@")[0]}
                                       for uid in ids if uid in USERS]}
        return 404, {}, {"error": "InvalidEndpoint", "description": "Not found"}

    def paginate(self, path: str, key: str, items: list[Any], q: dict[str, str],
                 render: Callable[[Any], Any] = lambda x: x,
                 ) -> tuple[int, dict[str, str], Any]:
        """One page of ``items`` (only that page is rendered to JSON)."""
        base = self.base_url + path
        if "page[size]" not in q:  # offset pagination
            per_page = min(int(q.get("per_page", 30)), 100)
            number = int(q.get("page", 1))
            chunk = [render(x) for x in items[(number - 1) * per_page:number * per_page]]
            more = number * per_page < len(items)
            return 200, {}, {key: chunk, "page": number, "per_page": per_page,
                             "page_count": -(-len(items) // per_page), "count": len(items),
                             "next_page": f"{base}?page={number + 1}&per_page={per_page}"
                             if more else None, "previous_page": None}
        size = min(int(q["page[size]"]), 100)
        start = int(base64.urlsafe_b64decode(q["page[after]"]).decode()) if q.get(
            "page[after]") else 0
        chunk = [render(x) for x in items[start:start + size]]
        more = start + size < len(items)
        after = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        before = base64.urlsafe_b64encode(str(start).encode()).decode()
        return 200, {}, {key: chunk, "meta": {"has_more": more, "after_cursor": after,
                                              "before_cursor": before},
                         "links": {"first": f"{base}?{urlencode({'page[size]': size})}",
                                   "next": f"{base}?{urlencode({'page[size]': size, 'page[after]': after})}"  # noqa: E501
                                   if more else None, "prev": None}}

    def incremental(self, q: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if not q.get("start_time", "").isdigit():
            return 400, {}, {"error": "InvalidParameter", "description": "start_time"}
        start = int(q["start_time"])
        if start > max(self.clock, int(time.time())):
            return 400, {}, {"error": "InvalidParameter",
                             "description": "start_time is in the future"}
        if not self._article_page():
            return 500, {}, {"error": "InternalError"}
        changed = sorted((a for a in self.articles.values() if a.updated_at >= start),
                         key=lambda a: (a.updated_at, a.id))[:self.incremental_page_size]
        end = changed[-1].updated_at if changed else start
        url = f"{self.base_url}/api/v2/help_center/incremental/articles.json?start_time={end}"
        return 200, {}, {"articles": [self.article_json(a, a.source_locale) for a in changed],
                         "next_page": url if changed else None, "end_time": end,
                         "count": len(changed)}

    def start(self, port: int = 0) -> FakeZendesk:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                status, headers, payload = fake.respond(parts.path, parse_qs(parts.query),
                                                        self.headers.get("Authorization"))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def __enter__(self) -> FakeZendesk:
        return self.start() if self.server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--records", type=int, default=50)
    args = parser.parse_args()
    fake = FakeZendesk().start(args.port)
    fake.generate(args.records)
    print(f"fake Zendesk Guide at {fake.base_url} with {args.records} articles\n"
          f"  kb.toml: [sources.zd] type = \"zendesk\", url = \"{fake.base_url}\", "
          "username_env = \"ZD_USER\", password_env = \"ZD_TOKEN\"\n"
          f"  export ZD_USER='{EMAIL}/token' ZD_TOKEN='{TOKEN}'   (or bearer: {OAUTH})",
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
