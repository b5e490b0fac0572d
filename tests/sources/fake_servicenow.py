"""A local fake of the part of ServiceNow's REST Table API that kb's connector reads.

``GET /api/now/table/kb_knowledge`` and ``GET /api/now/table/user_criteria`` with
``sysparm_query`` (encoded query: ``field=v``, ``!=``, ``>=``, ``<=``, ``>``, ``<``, ``IN``,
``NOT IN``, ``STARTSWITH``, dot-walked fields such as ``kb_knowledge_base.title``, ``ORDERBY``,
``ORDERBYDESC``, ``^`` for AND, ``^^`` for a literal caret), ``sysparm_fields`` (dot-walks too),
``sysparm_limit`` (default 10000), ``sysparm_offset``, ``sysparm_display_value`` (false, true,
all) and ``sysparm_exclude_reference_link``; answers ``{"result": [...]}`` with ``X-Total-Count``
and a ``Link`` header (first, prev, next, last; absolute URLs), basic or bearer auth (401 with
ServiceNow's error body otherwise). Date-times are stored in UTC (``yyyy-MM-dd HH:mm:ss``); their
display values are in the account's time zone (US/Pacific here, as on a fresh instance), so a
client that reads display values for dates gets them wrong, as on the real platform.

Deliberate difference: a query term the fake does not understand is a 400, where ServiceNow
would ignore it (and return more rows than asked): the tests should never rely on either.

    python -m tests.sources.fake_servicenow --port 8765 --records 50
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

USERNAME, PASSWORD, TOKEN = "kb.sync", "Fake-SN-pass-7731", "fake-sn-oauth-token-55c1"
TIME = "%Y-%m-%d %H:%M:%S"
#: reference fields: the table they point to and the field shown as their display value
REFERENCES = {"author": ("sys_user", "name"), "ownership_group": ("sys_user_group", "name"),
              "kb_category": ("kb_category", "label"),
              "kb_knowledge_base": ("kb_knowledge_base", "title")}
CRITERIA_FIELDS = ("can_read_user_criteria", "cannot_read_user_criteria")
STATE_LABELS = {"draft": "Draft", "review": "Review", "published": "Published",
                "outdated": "Outdated", "retired": "Retired"}
TERM = re.compile(r"^([a-z_][a-z0-9_.]*)(NOT IN|IN|STARTSWITH|>=|<=|!=|=|>|<)(.*)$", re.S)


class BadQuery(ValueError):
    pass


class FakeServiceNow:
    """The platform's state, changed by tests (articles, permissions, failures) and read over
    HTTP by :func:`serve`. Every change moves the clock one minute (``now``)."""

    def __init__(self, start: str = "2026-11-02 08:00:00") -> None:
        self.lock = threading.RLock()
        self.clock = datetime.strptime(start, TIME)
        self.tables: dict[str, dict[str, dict[str, str]]] = {
            name: {} for name in ("sys_user", "sys_user_group", "kb_category",
                                  "kb_knowledge_base", "user_criteria")}
        self.articles: list[dict[str, str]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.failures: list[tuple[int, dict[str, str]]] = []
        self.pages_before_failure: int | None = None
        self.next_number = 10001

    # -- the data ---------------------------------------------------------------------------
    @property
    def now(self) -> str:
        return self.clock.strftime(TIME)

    def tick(self) -> str:
        self.clock += timedelta(minutes=1)
        return self.now

    def ref(self, table: str, **fields: str) -> str:
        """The sys_id of the row of ``table`` with these fields, created if missing."""
        with self.lock:
            for sys_id, row in self.tables[table].items():
                if all(row.get(k) == v for k, v in fields.items()):
                    return sys_id
            sys_id = uuid.uuid4().hex
            self.tables[table][sys_id] = dict(fields, sys_id=sys_id)
            return sys_id

    def criteria(self, names: tuple[str, ...] | list[str]) -> str:
        return ",".join(self.ref("user_criteria", name=n) for n in names)

    def add_article(self, title: str, body: str, kb: str = "IT", state: str = "published",
                    category: str = "Network / VPN", author: str = "Ana Lopez",
                    email: str | None = "ana.lopez@example.com", group: str = "Service Desk",
                    meta: str = "", can_read: tuple[str, ...] = (),
                    cannot_read: tuple[str, ...] = (), valid_to: str = "2027-12-31",
                    versioned: bool = True) -> str:
        """A new article (version 1.0); returns its number (``KB0010001``...)."""
        with self.lock:
            number = f"KB{self.next_number:07d}"
            self.next_number += 1
            stamp = self.tick()
            row = {
                "sys_id": uuid.uuid4().hex, "number": number, "short_description": title,
                "text": body, "workflow_state": state, "valid_to": valid_to,
                "sys_created_on": stamp, "sys_updated_on": stamp, "meta": meta,
                "author": self.ref("sys_user", name=author, email=email or ""),
                "ownership_group": self.ref("sys_user_group", name=group),
                "kb_category": self.ref("kb_category", label=category.split(" / ")[-1],
                                        full_category=category),
                "kb_knowledge_base": self.ref("kb_knowledge_base", title=kb),
                "can_read_user_criteria": self.criteria(can_read),
                "cannot_read_user_criteria": self.criteria(cannot_read)}
            if versioned:
                row.update(version="1.0", latest="true")
            self.articles.append(row)
            return number

    def versions(self, number: str) -> list[dict[str, str]]:
        return [a for a in self.articles if a["number"] == number]

    def latest(self, number: str) -> dict[str, str]:
        versions = self.versions(number)
        return next((a for a in versions if a.get("latest") == "true"), versions[-1])

    def edit(self, number: str, **fields: str) -> None:
        """Change the latest version in place (a minor edit): ``text``, ``short_description``,
        ``workflow_state``, ``meta``, ``valid_to``..."""
        with self.lock:
            row = self.latest(number)
            row.update(fields, sys_updated_on=self.tick())

    def retire(self, number: str) -> None:
        self.edit(number, workflow_state="retired")

    def delete(self, number: str) -> None:
        with self.lock:
            self.articles = [a for a in self.articles if a["number"] != number]

    def move(self, number: str, kb: str) -> None:
        with self.lock:
            base = self.ref("kb_knowledge_base", title=kb)
            for row in self.versions(number):
                row.update(kb_knowledge_base=base, sys_updated_on=self.tick())

    def set_criteria(self, number: str, can_read: tuple[str, ...] = (),
                     cannot_read: tuple[str, ...] = ()) -> None:
        self.edit(number, can_read_user_criteria=self.criteria(can_read),
                  cannot_read_user_criteria=self.criteria(cannot_read))

    def checkout(self, number: str, **fields: str) -> None:
        """A new draft version (+0.01, ``latest``) of a published article: readers still see
        the published one until :meth:`publish`."""
        with self.lock:
            old = self.latest(number)
            stamp = self.tick()
            new = dict(old, **fields, sys_id=uuid.uuid4().hex, workflow_state="draft",
                       version=f"{float(old['version']) + 0.01:.2f}", latest="true",
                       sys_created_on=stamp, sys_updated_on=stamp)
            old["latest"] = "false"
            self.articles.append(new)

    def publish(self, number: str) -> None:
        """Publish the latest version; earlier published versions become outdated."""
        with self.lock:
            stamp = self.tick()
            current = self.latest(number)
            for row in self.versions(number):
                if row is not current and row["workflow_state"] == "published":
                    row.update(workflow_state="outdated", sys_updated_on=stamp)
            current.update(workflow_state="published", sys_updated_on=stamp)

    def generate(self, count: int, kbs: tuple[str, ...] = ("IT", "HR")) -> list[str]:
        """``count`` synthetic published articles, bodies shaped like real ones."""
        numbers = []
        for i in range(count):
            other = f"KB{self.next_number - 1:07d}" if i else f"KB{self.next_number:07d}"
            numbers.append(self.add_article(
                f"How to fix problem {i} with the VPN client", sample_body(i, other),
                kb=kbs[i % len(kbs)], meta=f"vpn, remote access, topic{i % 7}",
                can_read=("Employees",) if i % 5 == 0 else ()))
        return numbers

    # -- failures ---------------------------------------------------------------------------
    def fail_next(self, status: int, n: int = 1) -> None:
        with self.lock:
            self.failures += [(status, {})] * n

    def rate_limit_next(self, retry_after_s: int) -> None:
        with self.lock:
            self.failures.append((429, {"Retry-After": str(retry_after_s)}))

    def fail_after_pages(self, k: int | None) -> None:
        """Answer 500 to every ``kb_knowledge`` request after ``k`` more pages (None: stop)."""
        with self.lock:
            self.pages_before_failure = k

    # -- the API ----------------------------------------------------------------------------
    def answer(self, path: str, params: dict[str, str], auth: str, host: str,
               ) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.requests.append((path, params))
            if self.failures:
                status, headers = self.failures.pop(0)
                return status, headers, error("Injected failure", f"HTTP {status}")
            if auth not in (basic(USERNAME, PASSWORD), f"Bearer {TOKEN}"):
                return 401, {"WWW-Authenticate": 'Basic realm="Service-now"'}, error(
                    "User Not Authenticated", "Required to provide Auth information")
            match = re.fullmatch(r"/api/now(?:/v[12])?/table/([a-z_]+)", path)
            if not match or match.group(1) not in ("kb_knowledge", "user_criteria"):
                return 400, {}, error("Invalid table", path)
            if self.pages_before_failure is not None and match.group(1) == "kb_knowledge":
                if self.pages_before_failure <= 0:
                    return 500, {}, error("Transaction cancelled", "maximum execution time")
                self.pages_before_failure -= 1
            try:
                return self.table(match.group(1), path, params, host)
            except BadQuery as exc:
                return 400, {}, error("Invalid query", str(exc))

    def table(self, name: str, path: str, params: dict[str, str], host: str,
              ) -> tuple[int, dict[str, str], Any]:
        rows = self.articles if name == "kb_knowledge" else list(
            self.tables["user_criteria"].values())
        rows = query(self, rows, params.get("sysparm_query", ""))
        limit = int(params.get("sysparm_limit") or 10000)
        offset = int(params.get("sysparm_offset") or 0)
        page = rows[offset:offset + limit]
        mode = params.get("sysparm_display_value", "false")
        fields = [f for f in params.get("sysparm_fields", "").split(",") if f] or None
        links = params.get("sysparm_exclude_reference_link", "false") != "true"
        result = [self.render(row, fields, mode, links, host) for row in page]
        return 200, {"X-Total-Count": str(len(rows)),
                     **link_header(host, path, params, offset, limit, len(rows))}, {
                         "result": result}

    def value(self, row: dict[str, str], name: str) -> str | None:
        """A field's stored value (dot-walks included), None if there is no such field."""
        head, _, rest = name.partition(".")
        if not rest:
            return row.get(name)
        target = REFERENCES.get(head)
        ref = self.tables[target[0]].get(row.get(head, ""), {}) if target else {}
        return ref.get(rest, None if ref or not target else "")

    def field(self, row: dict[str, str], name: str) -> tuple[str | None, str | None]:
        """(value, display value) of a field, dot-walks included; (None, None) if no such
        field."""
        head, _, rest = name.partition(".")
        if rest:
            target = REFERENCES.get(head)
            if not target:
                return None, None
            ref = self.tables[target[0]].get(row.get(head, ""), {})
            if rest not in ref:
                return ("", "") if not ref else (None, None)
            return ref[rest], ref[rest]
        if name not in row:
            return None, None
        raw = row[name]
        if name in REFERENCES:
            table, label = REFERENCES[name]
            return raw, self.tables[table].get(raw, {}).get(label, "")
        if name in CRITERIA_FIELDS:
            return raw, ", ".join(self.tables["user_criteria"].get(i, {}).get("name", i)
                                  for i in raw.split(",") if i)
        if name == "workflow_state":
            return raw, STATE_LABELS.get(raw, raw)
        if name.startswith("sys_") and name.endswith("_on") and raw:
            local = datetime.strptime(raw, TIME) - timedelta(hours=8)
            return raw, local.strftime("%m/%d/%Y %I:%M:%S %p")
        return raw, raw

    def render(self, row: dict[str, str], fields: list[str] | None, mode: str, links: bool,
               host: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in fields or list(row):
            raw, shown = self.field(row, name)
            if raw is None:
                continue
            if mode == "all":
                out[name] = {"display_value": shown, "value": raw}
            else:
                out[name] = shown if mode == "true" else raw
            if links and name in REFERENCES and raw:
                link = f"http://{host}/api/now/table/{REFERENCES[name][0]}/{raw}"
                item = out[name] if isinstance(out[name], dict) else {"value": out[name]}
                out[name] = dict(item, link=link)
        return out


def query(fake: FakeServiceNow, rows: list[dict[str, str]], encoded: str,
          ) -> list[dict[str, str]]:
    """Rows matching an encoded query, in its ORDERBY order."""
    terms = [t.replace("\0", "^") for t in encoded.replace("^^", "\0").split("^") if t]
    orders: list[tuple[str, bool]] = []
    selected = list(rows)
    for term in terms:
        if term.startswith("ORDERBYDESC"):
            orders.append((term[11:], True))
            continue
        if term.startswith("ORDERBY"):
            orders.append((term[7:], False))
            continue
        match = TERM.match(term)
        if not match or term.startswith(("OR", "NQ")):
            raise BadQuery(f"unsupported term {term!r}")
        name, op, wanted = match.groups()
        if all(fake.value(r, name) is None for r in rows) and rows:
            raise BadQuery(f"unknown field {name!r}")
        selected = [r for r in selected if matches(fake.value(r, name) or "", op, wanted)]
    for name, descending in reversed(orders):
        selected.sort(key=lambda r, n=name: fake.value(r, n) or "", reverse=descending)
    return selected


def matches(actual: str, op: str, wanted: str) -> bool:
    if op in ("IN", "NOT IN"):
        inside = actual in wanted.split(",") or bool(
            set(actual.split(",")) & set(wanted.split(",")) - {""})
        return inside if op == "IN" else not inside
    checks = {"=": actual == wanted, "!=": actual != wanted, ">=": actual >= wanted,
              "<=": actual <= wanted, ">": actual > wanted, "<": actual < wanted,
              "STARTSWITH": actual.startswith(wanted)}
    return checks[op]


def link_header(host: str, path: str, params: dict[str, str], offset: int, limit: int,
                total: int) -> dict[str, str]:
    if total <= limit and offset == 0:
        return {}

    def at(where: int) -> str:
        query = urlencode(dict(params, sysparm_offset=where, sysparm_limit=limit))
        return f"<http://{host}{path}?{query}>"

    parts = [f'{at(0)};rel="first"']
    if offset > 0:
        parts.append(f'{at(max(0, offset - limit))};rel="prev"')
    if offset + limit < total:
        parts.append(f'{at(offset + limit)};rel="next"')
    parts.append(f'{at(max(0, (total - 1) // limit * limit))};rel="last"')
    return {"Link": ",".join(parts)}


def error(message: str, detail: str) -> dict[str, Any]:
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def sample_body(i: int, other: str) -> str:
    """An article body like ServiceNow's editor writes: a table, code, images, links."""
    return (
        f"<p>Symptom {i}: the VPN client shows <strong>error 809</strong>.</p>"
        "<h2>Steps</h2><ol><li>Open the client.</li>"
        '<li>Check the settings: <img alt="VPN settings dialog"'
        ' src="/sys_attachment.do?sys_id=0a1b2c3d4e5f60718293a4b5c6d7e8f9" /></li>'
        '<li>Compare with <img src="/images/vpn_client_ok.png" /></li></ol>'
        '<pre class="language-powershell"><code>Get-VpnConnection -Name "Corp"\n'
        'Set-VpnConnection -Name "Corp" -SplitTunneling $true</code></pre>'
        "<pre>ipconfig /flushdns</pre>"
        "<table><thead><tr><th>Error</th><th>Fix</th></tr></thead><tbody>"
        "<tr><td>809</td><td>Open UDP 500 and 4500</td></tr>"
        "<tr><td>691</td><td>Reset the password</td></tr></tbody></table>"
        f'<p>See also <a href="/kb_view.do?sysparm_article={other}">the related article</a> and '
        f'<a href="/sp?id=kb_article_view&amp;sysparm_article={other}">its portal page</a>.</p>')


class Handler(BaseHTTPRequestHandler):
    fake: FakeServiceNow

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        status, headers, body = self.fake.answer(
            parts.path, params, self.headers.get("Authorization", ""),
            self.headers.get("Host", "127.0.0.1"))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@contextmanager
def serve(fake: FakeServiceNow, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``fake`` in a thread; yields its base URL."""
    handler = type("BoundHandler", (Handler,), {"fake": fake})
    server = ThreadingHTTPServer((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake ServiceNow Table API for kb_knowledge")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--records", type=int, default=50)
    args = parser.parse_args()
    fake = FakeServiceNow()
    fake.generate(args.records)
    with serve(fake, args.host, args.port) as url:
        print(f"fake ServiceNow at {url} with {args.records} articles in knowledge bases IT, HR",
              flush=True)
        print(f"basic auth: {USERNAME} / {PASSWORD}   bearer token: {TOKEN}", flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
