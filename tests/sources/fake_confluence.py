"""A local fake Confluence (Cloud REST v2 + v1 restrictions, and Data Center /rest/api) for tests.

It serves the part of Atlassian's public REST contract kb's connector uses, shaped like the
documented payloads: ``GET /wiki/api/v2/spaces?keys=``, ``/wiki/api/v2/spaces/{id}/pages``
(cursor pagination in ``_links.next`` and the ``Link`` header), ``/wiki/api/v2/pages?id=``,
``/wiki/api/v2/pages/{id}/labels``, ``/wiki/rest/api/content/{id}/restriction/byOperation/read``;
Data Center ``/rest/api/content`` (offset pagination, ``expand=``), ``/rest/api/content/search``
(the CQL the connector sends) and ``/rest/api/content/{id}/restriction/byOperation/read``.
Basic auth (email + API token) or a bearer PAT; anything else is 401.

Tests drive it: add/edit/retire/trash/delete/move pages, change restrictions, ``fail_next``,
``rate_limit_next``, ``fail_after_pages``, ``generate(n)``. Time is a fake clock that moves only
when a page changes, so nothing depends on the wall clock. Standalone:

    python -m tests.sources.fake_confluence --port 8765 --records 50
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlencode, urlsplit

USER, TOKEN, PAT = "kb-sync@example.com", "cloud-api-token-s3cr3t", "dc-personal-token-s3cr3t"
V2_MAX_LIMIT, DC_MAX_LIMIT = 250, 200
CQL = re.compile(r'^space\s*=\s*"(?P<space>[^"]+)"\s+and\s+type\s*=\s*page'
                 r'(?:\s+and\s+lastmodified\s*>=\s*"(?P<date>\d{4}/\d{2}/\d{2} \d{2}:\d{2})")?$',
                 re.I)
CQL_IDS = re.compile(r"^id\s+in\s*\((?P<ids>\d+(?:\s*,\s*\d+)*)\)$", re.I)


@dataclass
class FakePage:
    id: str
    space: str
    title: str
    body: str
    updated: datetime
    parent_id: str | None = None
    status: str = "current"
    labels: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    version: int = 1


def sample_body(n: int, link_title: str | None = None) -> str:
    """A storage-format body with the things a KB page has: steps, a table, code, an image,
    an info panel and (optionally) a link to another page."""
    link = (f'<p>See also <ac:link><ri:page ri:content-title="{html.escape(link_title)}" />'
            f"</ac:link>.</p>" if link_title else "")
    return (f"<h2>Fix {n}</h2><p>Steps for issue {n}&nbsp;on the VPN client.</p>"
            "<table><tbody><tr><th>Setting</th><th>Value</th></tr>"
            f"<tr><td>Port</td><td>{4000 + n}</td></tr></tbody></table>"
            '<ac:structured-macro ac:name="code" ac:schema-version="1">'
            '<ac:parameter ac:name="language">powershell</ac:parameter>'
            f"<ac:plain-text-body><![CDATA[Restart-Service vpn{n} -Force]]></ac:plain-text-body>"
            "</ac:structured-macro>"
            f'<p><ac:image><ri:attachment ri:filename="screen-{n}.png" /></ac:image></p>'
            '<ac:structured-macro ac:name="info"><ac:rich-text-body>'
            f"<p>Ticket category {n % 7}.</p></ac:rich-text-body></ac:structured-macro>{link}")


class FakeConfluence:
    """The fake's state and controls; :meth:`start` serves it on a free loopback port."""

    def __init__(self, cql_offset_h: float = -5.0) -> None:
        self.spaces: dict[str, str] = {}
        self.pages: dict[str, FakePage] = {}
        self.clock = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
        #: CQL dates are read in the account's time zone, as on the real platform
        self.cql_tz = timezone(timedelta(hours=cql_offset_h))
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self._failures: list[int] = []
        self._retry_after: list[float] = []
        self._pages_left: int | None = None
        self._next_id = 65536
        self.base_url = ""
        self._server: ThreadingHTTPServer | None = None

    # --- controls --------------------------------------------------------------------------
    def tick(self, minutes: float = 1) -> datetime:
        self.clock += timedelta(minutes=minutes)
        return self.clock

    def add_space(self, key: str) -> str:
        return self.spaces.setdefault(key, str(1000 + len(self.spaces)))

    def add_page(self, space: str, title: str, body: str | None = None,
                 parent: str | None = None, **kw: Any) -> FakePage:
        self.add_space(space)
        self._next_id += 1
        page = FakePage(str(self._next_id), space, title, body or sample_body(self._next_id),
                        self.tick(), parent, **kw)
        self.pages[page.id] = page
        return page

    def edit(self, page_id: str, **changes: Any) -> FakePage:
        page = self.pages[page_id]
        for key, value in changes.items():
            setattr(page, key, value)
        page.version += 1
        page.updated = self.tick()
        return page

    def restrict(self, page_id: str, groups: list[str] = (), users: list[str] = ()) -> None:
        """Change read restrictions; like Confluence, this makes no new version."""
        self.pages[page_id].groups, self.pages[page_id].users = list(groups), list(users)

    def retire(self, page_id: str) -> None:
        self.edit(page_id, status="archived")

    def trash(self, page_id: str) -> None:
        self.edit(page_id, status="trashed")

    def delete(self, page_id: str) -> None:
        del self.pages[page_id]

    def move(self, page_id: str, space: str) -> None:
        self.add_space(space)
        self.edit(page_id, space=space, parent_id=None)

    def fail_next(self, status: int, n: int = 1) -> None:
        self._failures += [status] * n

    def rate_limit_next(self, retry_after_s: float) -> None:
        self._retry_after.append(retry_after_s)

    def fail_after_pages(self, k: int | None) -> None:
        """Serve ``k`` more answers, then HTTP 500 to everything (None: back to normal)."""
        self._pages_left = k

    def generate(self, n: int, space: str = "IT") -> list[FakePage]:
        """``n`` synthetic pages: a home page, section pages under it, articles under those
        (every 50th restricted to the group hr-staff)."""
        made = [self.add_page(space, f"{space} Home", "<p>Start here.</p>")]
        sections = [self.add_page(space, f"Section {i}", f"<p>Section {i}</p>", made[0].id)
                    for i in range(min(5, max(0, n - 1)))]
        made += sections
        for i in range(max(0, n - len(made))):
            parent = sections[i % len(sections)].id if sections else made[0].id
            link = made[-1].title if i else None
            made.append(self.add_page(space, f"How to fix issue {i}", sample_body(i, link), parent,
                                      labels=["vpn", f"topic-{i % 5}"],
                                      groups=["hr-staff"] if i % 50 == 49 else []))
        return made

    # --- serving ---------------------------------------------------------------------------
    def start(self, port: int = 0) -> str:
        fake = self

        class Handler(_Handler):
            state = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self.base_url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def injected(self) -> tuple[int, dict[str, str]] | None:
        """The failure to answer with now, if one is due."""
        with self.lock:
            if self._retry_after:
                return 429, {"Retry-After": f"{self._retry_after.pop(0):g}"}
            if self._failures:
                return self._failures.pop(0), {}
            if self._pages_left is not None:
                if self._pages_left <= 0:
                    return 500, {}
                self._pages_left -= 1
        return None


def _iso(when: datetime, tz: timezone = UTC) -> str:
    text = when.astimezone(tz).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _slug(title: str) -> str:
    return quote(title.replace(" ", "+"), safe="+")


def _paged(items: list[Any], start: int, limit: int) -> tuple[list[Any], int | None]:
    chunk = items[start:start + limit]
    return chunk, (start + limit if start + limit < len(items) else None)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    return int(raw.split(":", 1)[1])


class _Handler(BaseHTTPRequestHandler):
    state: FakeConfluence

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        basic = base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
        return header in (f"Basic {basic}", f"Bearer {PAT}")

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        fake = self.state
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        fake.requests.append(self.path)
        if not self._authorized():
            self._send(401, {"code": 401, "message": "Unauthorized; scope does not match"},
                       {"WWW-Authenticate": 'Basic realm="protected"'})
            return
        failure = fake.injected()
        if failure:
            self._send(failure[0], {"statusCode": failure[0], "message": "injected"}, failure[1])
            return
        try:
            with fake.lock:
                status, body, headers = _route(fake, parts.path, query)
        except (ValueError, KeyError, IndexError) as exc:
            status, body, headers = 400, {"statusCode": 400, "message": str(exc)}, {}
        self._send(status, body, headers)


def _one(query: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    return query[name][-1] if name in query else default


def _limit(query: dict[str, list[str]], default: int, most: int) -> int:
    value = int(_one(query, "limit", str(default)) or default)
    if value < 1:
        raise ValueError("limit must be positive")
    return min(value, most)


def _statuses(query: dict[str, list[str]]) -> set[str]:
    given = [s for v in query.get("status", []) for s in v.split(",") if s]
    return set(given or ["current", "archived"])


def _route(fake: FakeConfluence, path: str, query: dict[str, list[str]]) -> tuple[int, Any, dict]:
    segments = [s for s in path.split("/") if s]
    if segments[:3] == ["wiki", "api", "v2"]:
        return _cloud(fake, segments[3:], query)
    if segments[:3] == ["wiki", "rest", "api"]:
        if segments[3:] == ["content", "search"]:
            return _search(fake, query, cloud=True)
        return _restriction(fake, segments[3:])
    if segments[:2] == ["rest", "api"]:
        if segments[2:3] == ["content"] and len(segments) > 4:
            return _restriction(fake, segments[2:])
        return _datacenter(fake, segments[2:], query)
    return 404, {"statusCode": 404, "message": "No such path"}, {}


def _restriction(fake: FakeConfluence, rest: list[str]) -> tuple[int, Any, dict]:
    if len(rest) != 5 or rest[0] != "content" or rest[2:] != ["restriction", "byOperation",
                                                               "read"]:
        return 404, {"statusCode": 404, "message": "No such path"}, {}
    page = fake.pages.get(rest[1])
    if page is None:
        return 404, {"statusCode": 404, "message": "No content found"}, {}
    return 200, _restrictions(page), {}


def _restrictions(page: FakePage) -> dict[str, Any]:
    def paged(results: list[dict[str, Any]]) -> dict[str, Any]:
        return {"results": results, "start": 0, "limit": 200, "size": len(results)}
    return {"operation": "read", "restrictions": {
        "user": paged([{"type": "known", "accountId": f"acc-{u}", "displayName": u}
                       for u in page.users]),
        "group": paged([{"type": "group", "name": g, "id": f"gid-{g}"} for g in page.groups])},
        "_expandable": {"content": f"/rest/api/content/{page.id}"}}


# --- Cloud REST v2 -------------------------------------------------------------------------

def _v2_page(fake: FakeConfluence, page: FakePage, body_format: str | None) -> dict[str, Any]:
    return {
        "id": page.id, "status": page.status, "title": page.title,
        "spaceId": fake.spaces[page.space], "parentId": page.parent_id,
        "parentType": "page" if page.parent_id else None, "position": int(page.id) % 100,
        "authorId": "557058:author", "ownerId": "557058:owner", "lastOwnerId": None,
        "createdAt": _iso(page.updated - timedelta(days=30)),
        "version": {"createdAt": _iso(page.updated), "message": "", "number": page.version,
                    "minorEdit": False, "authorId": "557058:editor"},
        "body": ({"storage": {"representation": "storage", "value": page.body}}
                 if body_format == "storage" else {}),
        "_links": {"webui": f"/spaces/{page.space}/pages/{page.id}/{_slug(page.title)}",
                   "editui": f"/pages/resumedraft.action?draftId={page.id}",
                   "tinyui": f"/x/{page.id}"}}


def _v2_list(fake: FakeConfluence, path: str, items: list[Any], query: dict[str, list[str]],
             render: Any) -> tuple[int, Any, dict]:
    limit = _limit(query, 25, V2_MAX_LIMIT)
    chunk, more = _paged(items, _offset(_one(query, "cursor")), limit)
    links: dict[str, str] = {"base": f"{fake.base_url}/wiki"}
    headers = {}
    if more is not None:
        kept = [(k, v) for k, vs in query.items() if k != "cursor" for v in vs]
        links["next"] = f"/wiki/api/v2/{path}?{urlencode(kept + [('cursor', _cursor(more))])}"
        headers["Link"] = f'<{links["next"]}>; rel="next", <{links["base"]}>; rel="base"'
    return 200, {"results": [render(x) for x in chunk], "_links": links}, headers


def _cloud(fake: FakeConfluence, rest: list[str], query: dict[str, list[str]]
           ) -> tuple[int, Any, dict]:
    fmt = _one(query, "body-format")
    if fmt not in (None, "storage", "atlas_doc_format"):
        raise ValueError(f"body-format {fmt} is not valid")
    path = "/".join(rest)
    if rest == ["spaces"]:
        keys = {k for v in query.get("keys", []) for k in v.split(",")}
        spaces = [{"id": sid, "key": key, "name": f"{key} space", "type": "global",
                   "status": "current"} for key, sid in fake.spaces.items()
                  if not keys or key in keys]
        return _v2_list(fake, path, spaces, query, lambda s: s)
    statuses = _statuses(query)
    if len(rest) == 3 and rest[0] == "spaces" and rest[2] == "pages":
        key = next((k for k, sid in fake.spaces.items() if sid == rest[1]), None)
        if key is None:
            return 404, {"errors": [{"status": 404, "title": "Not Found"}]}, {}
        pages = sorted((p for p in fake.pages.values()
                        if p.space == key and p.status in statuses), key=lambda p: int(p.id))
        return _v2_list(fake, path, pages, query, lambda p: _v2_page(fake, p, fmt))
    if rest == ["pages"]:
        ids = {i for v in query.get("id", []) for i in v.split(",") if i}
        if len(ids) > V2_MAX_LIMIT:
            raise ValueError("too many ids")
        pages = sorted((p for p in fake.pages.values()
                        if (not ids or p.id in ids) and p.status in statuses),
                       key=lambda p: int(p.id))
        return _v2_list(fake, path, pages, query, lambda p: _v2_page(fake, p, fmt))
    if len(rest) == 3 and rest[0] == "pages" and rest[2] == "labels":
        page = fake.pages.get(rest[1])
        if page is None:
            return 404, {"errors": [{"status": 404, "title": "Not Found"}]}, {}
        labels = [{"id": str(abs(hash(n)) % 10**6), "name": n, "prefix": "global"}
                  for n in page.labels]
        return _v2_list(fake, path, labels, query, lambda x: x)
    return 404, {"errors": [{"status": 404, "title": "Not Found"}]}, {}


# --- Data Center /rest/api -----------------------------------------------------------------

def _dc_page(fake: FakeConfluence, page: FakePage, expand: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": page.id, "type": "page", "status": page.status, "title": page.title,
        "_links": {"webui": f"/display/{page.space}/{quote_plus(page.title)}",
                   "tinyui": f"/x/{page.id}",
                   "self": f"{fake.base_url}/rest/api/content/{page.id}"},
        "_expandable": {"space": f"/rest/api/space/{page.space}", "history": ""}}
    if "version" in expand:
        out["version"] = {"by": {"type": "known", "username": "editor"},
                          "when": _iso(page.updated, timezone(timedelta(hours=1))),
                          "number": page.version, "minorEdit": False}
    if "ancestors" in expand:
        chain, parent = [], page.parent_id
        while parent in fake.pages:
            chain.append(fake.pages[parent])
            parent = fake.pages[parent].parent_id
        out["ancestors"] = [{"id": a.id, "type": "page", "status": a.status, "title": a.title}
                            for a in reversed(chain)]
    if "body.storage" in expand:
        out["body"] = {"storage": {"value": page.body, "representation": "storage"}}
    if "metadata.labels" in expand:
        results = [{"prefix": "global", "name": n, "id": str(i), "label": n}
                   for i, n in enumerate(page.labels)]
        out["metadata"] = {"labels": {"results": results, "start": 0, "limit": 200,
                                      "size": len(results)}}
    if {"restrictions.read.restrictions.group", "restrictions.read.restrictions.user"} & expand:
        full = _restrictions(page)
        kept = {k: v for k, v in full["restrictions"].items()
                if f"restrictions.read.restrictions.{k}" in expand}
        out["restrictions"] = {"read": {"operation": "read", "restrictions": kept}}
    return out


def _dc_list(fake: FakeConfluence, path: str, pages: list[FakePage], query: dict[str, list[str]],
             cloud: bool = False) -> tuple[int, Any, dict]:
    """Offset pagination (Data Center); Cloud's v1 search pages with a cursor instead."""
    expand = {e.strip() for v in query.get("expand", []) for e in v.split(",")}
    if cloud:
        start, step = _offset(_one(query, "cursor")), ("cursor", "")
    else:
        start, step = int(_one(query, "start", "0") or 0), ("start", "")
    limit = _limit(query, 25, DC_MAX_LIMIT)
    chunk, more = _paged(pages, start, limit)
    links = {"base": fake.base_url + ("/wiki" if cloud else ""),
             "context": "/wiki" if cloud else "", "self": f"{fake.base_url}/rest/api/{path}"}
    if more is not None:
        kept = [(k, v) for k, vs in query.items() if k not in (step[0], "limit") for v in vs]
        token = _cursor(more) if cloud else str(more)
        links["next"] = (f"/rest/api/{path}?"
                         f"{urlencode(kept + [('limit', limit), (step[0], token)])}")
    return 200, {"results": [_dc_page(fake, p, expand) for p in chunk], "start": start,
                 "limit": limit, "size": len(chunk), "_links": links}, {}


def _search(fake: FakeConfluence, query: dict[str, list[str]], cloud: bool = False
            ) -> tuple[int, Any, dict]:
    """The CQL the connector sends: by space (and lastmodified), or by ids."""
    ordered = sorted(fake.pages.values(), key=lambda p: int(p.id))
    cql = (_one(query, "cql") or "").strip()
    by_space, by_ids = CQL.match(cql), CQL_IDS.match(cql)
    if by_ids:
        wanted = {i.strip() for i in by_ids.group("ids").split(",")}
        pages = [p for p in ordered if p.id in wanted and p.status == "current"]
    elif by_space:
        floor = None
        if by_space.group("date"):
            floor = datetime.strptime(by_space.group("date"), "%Y/%m/%d %H:%M").replace(
                tzinfo=fake.cql_tz)
        pages = [p for p in ordered if p.space == by_space.group("space")
                 and p.status == "current" and (floor is None or p.updated >= floor)]
    else:
        return 400, {"statusCode": 400, "message": "Could not parse cql"}, {}
    return _dc_list(fake, "content/search", pages, query, cloud)


def _datacenter(fake: FakeConfluence, rest: list[str], query: dict[str, list[str]]
                ) -> tuple[int, Any, dict]:
    ordered = sorted(fake.pages.values(), key=lambda p: int(p.id))
    if rest == ["content"]:
        space, kind = _one(query, "spaceKey"), _one(query, "type", "page")
        status = _one(query, "status", "current")
        pages = [p for p in ordered if (space is None or p.space == space)
                 and kind == "page" and p.status == status]
        return _dc_list(fake, "content", pages, query)
    if rest == ["content", "search"]:
        return _search(fake, query)
    return 404, {"statusCode": 404, "message": "No such path"}, {}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Confluence (Cloud v2 + Data Center).")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--space", default="IT")
    args = parser.parse_args(argv)
    fake = FakeConfluence()
    fake.generate(args.records, args.space)
    url = fake.start(args.port)
    print(f"fake Confluence at {url} (space {args.space}, {args.records} pages)")
    print(f"  cloud:      api = \"cloud\", url = \"{url}\", user {USER}, API token {TOKEN}")
    print(f"  datacenter: api = \"datacenter\", url = \"{url}\", PAT {PAT}")
    print("Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
