"""Confluence pages as :class:`SourceRecord`: Cloud (REST v2) and Data Center (/rest/api).

``connector(cfg, client)`` reads the spaces named in ``cfg.scopes`` (space keys); HTML space
exports (zip) are read by :mod:`ingest.sources.confluence_export`. Mapping: page id -> id,
storage body -> HTML (:mod:`ingest.sources.confluence_storage`), ancestors -> category
("Parent > Child"), labels -> tags, version date -> updated and last_reviewed, read restrictions
-> groups, current -> published, draft -> draft, archived -> retired; trashed and deleted pages
are not listed, so kb removes them.

Read restrictions are inherited in Confluence: a page is readable only by those allowed on it and
on every restricted ancestor. ``groups`` is therefore the intersection of the group sets of all
restricted pages on the path; a page restricted to named users only (no group), or whose
restricted levels share no group, gets :data:`USERS_ONLY_GROUP`, which no kb user has unless an
admin gives it: such a page fails closed instead of becoming readable by everyone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, urlsplit

import httpx

from ingest.sources.config import SourceConfig
from ingest.sources.confluence_storage import PageUrl, render_storage
from ingest.sources.http import PlatformClient, SourceError
from ingest.sources.record import Connector, Progress, SourceRecord

log = logging.getLogger(__name__)

#: the group given to pages that only named users (no group kb knows) may read
USERS_ONLY_GROUP = "confluence-restricted-users"
STATUSES = {"current": "published", "draft": "draft", "archived": "retired"}
#: CQL dates are read in the account's time zone: ask for a day more, then compare exactly
CQL_MARGIN = timedelta(days=1)
MAX_DEPTH = 100
#: the most results a v2 listing returns per request
V2_MAX_LIMIT = 250


def utc_timestamp(value: Any) -> str | None:
    """``2026-11-30T10:15:00.000+01:00`` -> ``2026-11-30T09:15:00Z`` (None if unreadable)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ReadRestriction:
    """The read restriction set on one page itself (not inherited)."""

    groups: frozenset[str] = frozenset()
    restricted: bool = False


OPEN = ReadRestriction()
RESTRICTION_EXPAND = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"


def restriction_from(data: Any) -> ReadRestriction | None:
    """From a v1 ``ContentRestriction`` (``{"restrictions": {"user": .., "group": ..}}``);
    None when users or groups were not expanded (then nothing is known: ask again)."""
    subjects = (data or {}).get("restrictions") if isinstance(data, dict) else None
    if not isinstance(subjects, dict) or not {"user", "group"} <= set(subjects):
        return None
    groups = frozenset(str(g["name"]) for g in (subjects["group"] or {}).get("results", [])
                       if g.get("name"))
    users = (subjects["user"] or {}).get("results", [])
    return ReadRestriction(groups, bool(groups or users))


def labels_from(content: dict[str, Any]) -> list[str] | None:
    """Label names from a v1 content's ``metadata.labels`` (None when not expanded);
    personal ("my:") labels are left out."""
    labels = (content.get("metadata") or {}).get("labels")
    if not isinstance(labels, dict):
        return None
    return [str(x["name"]) for x in labels.get("results", [])
            if x.get("name") and x.get("prefix", "global") != "my"]


def effective_groups(chain: list[ReadRestriction]) -> tuple[str, ...]:
    """kb groups for a page whose own and ancestors' restrictions are ``chain``."""
    levels = [r.groups for r in chain if r.restricted]
    if not levels:
        return ()
    allowed = frozenset.intersection(*levels)
    return tuple(sorted(allowed)) if allowed else (USERS_ONLY_GROUP,)


def _cql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class PageInfo:
    """One page of a space listing (no body): enough for ids, paths and link targets."""

    id: str
    title: str
    space: str
    parent_id: str | None
    updated: str | None
    webui: str | None


@dataclass
class _Confluence:
    """What both APIs share: pagination, the page tree, restrictions, the mapping."""

    cfg: SourceConfig
    client: PlatformClient
    pages: dict[str, PageInfo] = field(default_factory=dict)
    listed: bool = False
    base: str = ""
    restrictions: dict[str, ReadRestriction] = field(default_factory=dict)
    labels: dict[str, list[str]] = field(default_factory=dict)
    _by_title: dict[tuple[str, str], PageInfo] = field(default_factory=dict)

    def _set_pages(self, pages: dict[str, PageInfo]) -> None:
        self.pages, self.listed = pages, True
        self._by_title = {(p.space, p.title): p for p in pages.values()}
        if not self.base:  # no listing said where the UI lives: the configured address
            self.base = self.client.base_url.rstrip("/") + ("/wiki" if self._wiki() else "")

    def _wiki(self) -> str:
        return ""

    def _json(self, path: str, params: dict[str, Any] | None = None) -> tuple[Any, httpx.Response]:
        response = self.client.get(path, params)
        try:
            return response.json(), response
        except ValueError:
            raise SourceError(f"source {self.cfg.name}: GET {urlsplit(str(response.url)).path}: "
                              "the answer is not JSON") from None

    def _pages_of(self, path: str, params: dict[str, Any], what: str,
                  progress: Progress) -> Iterator[dict[str, Any]]:
        """Every result of a paginated listing, following ``_links.next`` to the end."""
        url: str | None = path
        query: dict[str, Any] | None = params
        count = 0
        while url:
            body, response = self._json(url, query)
            results = body.get("results") or []
            if (body.get("_links") or {}).get("base"):
                self.base = str(body["_links"]["base"]).rstrip("/")
            count += len(results)
            progress(f"{self.cfg.name}: {what}: {count} read")
            yield from results
            url = self._next(body, response) if results else None
            query = None

    def _next(self, body: dict[str, Any], response: httpx.Response) -> str | None:
        raise NotImplementedError

    def _remember(self, content: dict[str, Any]) -> None:
        """Keep the restriction and labels a v1 content carries (when they were expanded)."""
        page_id = str(content.get("id"))
        own = restriction_from((content.get("restrictions") or {}).get("read"))
        if own is not None:
            self.restrictions[page_id] = own
        labels = labels_from(content)
        if labels is not None:
            self.labels[page_id] = labels

    def _ancestors(self, page_id: str) -> list[tuple[str, str]]:
        """(id, title) from the space's top down to the parent, from the listing's tree."""
        chain: list[tuple[str, str]] = []
        parent = self.pages[page_id].parent_id if page_id in self.pages else None
        while parent in self.pages and len(chain) < MAX_DEPTH:
            info = self.pages[parent]
            chain.append((info.id, info.title))
            parent = info.parent_id
        return chain[::-1]

    def _restricted_ids(self) -> set[str]:
        """Listed pages under a read restriction (their own or an ancestor's), as far as known.
        Restriction changes make no new version, so these are sent on every sync: a page that
        became restricted never stays readable by everyone in kb."""
        return {pid for pid in self.pages
                if any(self.restrictions.get(c, OPEN).restricted
                       for c in [pid, *(a for a, _ in self._ancestors(pid))])}

    def _restriction(self, page_id: str) -> ReadRestriction:
        if page_id not in self.restrictions:
            data, _ = self._json(f"{self._wiki()}rest/api/content/{page_id}/restriction/"
                                 "byOperation/read",
                                 {"expand": "restrictions.user,restrictions.group",
                                  "limit": 200})
            own = restriction_from(data)
            if own is None:
                raise SourceError(f"source {self.cfg.name}: page {page_id}: the read "
                                  "restriction came back without its users and groups")
            self.restrictions[page_id] = own
        return self.restrictions[page_id]

    def _groups(self, page_id: str, ancestor_ids: list[str]) -> tuple[str, ...]:
        return effective_groups([self._restriction(p) for p in [page_id, *ancestor_ids]])

    def _page_url(self, space: str) -> PageUrl:
        """A resolver for ``ri:page`` links on a page of ``space``: the page's own URL when the
        listing knows it, else Confluence's title URL (``/display/KEY/Title``)."""
        def url(title: str, space_key: str | None) -> str | None:
            key = space_key or space
            known = self._by_title.get((key, title))
            if known and known.webui:
                return self.base + known.webui
            return f"{self.base}/display/{quote_plus(key)}/{quote_plus(title)}"
        return url

    def _record(self, raw: dict[str, Any], space: str, storage: str | None, updated: str | None,
                ancestors: list[tuple[str, str]], labels: list[str]) -> SourceRecord | None:
        page_id, title = str(raw.get("id", "")), str(raw.get("title") or "").strip()
        status = STATUSES.get(str(raw.get("status", "")))
        if status is None:
            return None  # trashed, deleted, historical: not kb's
        if not page_id or not title or storage is None or updated is None:
            log.warning("source %s: page %s (%r) has no title, body or version date; skipped",
                        self.cfg.name, page_id or "?", title)
            return None
        try:
            body = render_storage(storage, self._page_url(space))
        except ValueError as exc:
            log.warning("source %s: page %s (%r): body not readable (%s); skipped",
                        self.cfg.name, page_id, title, exc)
            return None
        webui = (raw.get("_links") or {}).get("webui")
        return SourceRecord(
            id=page_id, title=title, body_html=body, updated=updated, status=status,
            groups=self._groups(page_id, [a for a, _ in ancestors]),
            category=" > ".join(t for _, t in ancestors) or None,
            tags=tuple(dict.fromkeys(labels)), url=self.base + webui if webui else None,
            last_reviewed=updated[:10])


class CloudConfluence(_Confluence):
    """Confluence Cloud: REST v2 for pages, v1 CQL search for restrictions and labels in bulk.

    v2 pages have no modified-since filter and v2 has no restrictions. So a sync lists each
    space twice without bodies, ``page_size`` pages a request: v2 ``/spaces/{id}/pages`` (ids,
    status, titles, parents, version dates: the tree gives category paths without per-page
    ancestor calls) and v1 ``/content/search?cql=space=KEY and type=page`` expanding labels and
    read restrictions. ``changed(since)`` then fetches in bulk (``GET /pages?id=..``) the
    bodies of pages whose version date is >= since, and of restricted pages (restriction
    changes make no new version). Per-page calls (labels, restriction) only for pages the CQL
    listing did not return (archived ones). 5,000 pages at 250 a request: ~20+20 requests to
    list, plus changed/250 for bodies.
    """

    def _wiki(self) -> str:
        return "" if urlsplit(self.client.base_url).path.rstrip("/").endswith("/wiki") else "wiki/"

    def _next(self, body: dict[str, Any], response: httpx.Response) -> str | None:
        link = (body.get("_links") or {}).get("next") or response.links.get("next", {}).get("url")
        if not link:
            return None
        if urlsplit(link).scheme:
            return str(link)
        path = link.lstrip("/")  # v2 links carry /wiki/, v1 links are relative to it
        return self._wiki() + (path[5:] if path.startswith("wiki/") else path)

    def _space_id(self, key: str) -> str:
        body, _ = self._json(f"{self._wiki()}api/v2/spaces", {"keys": key, "limit": 1})
        found = [s for s in body.get("results") or [] if s.get("key") == key]
        if not found:
            raise SourceError(f"source {self.cfg.name}: space {key} not found (or the account "
                              "may not view it)")
        return str(found[0]["id"])

    def _listing(self, progress: Progress) -> None:
        pages: dict[str, PageInfo] = {}
        size = self.cfg.page_size
        for key in self.cfg.scopes:
            path = f"{self._wiki()}api/v2/spaces/{self._space_id(key)}/pages"
            params = {"limit": min(size, V2_MAX_LIMIT), "status": ["current", "archived"]}
            for raw in self._pages_of(path, params, f"space {key} pages", progress):
                pages[str(raw["id"])] = PageInfo(
                    str(raw["id"]), str(raw.get("title") or ""), key,
                    str(raw["parentId"]) if raw.get("parentId") else None,
                    utc_timestamp((raw.get("version") or {}).get("createdAt")),
                    (raw.get("_links") or {}).get("webui"))
            params = {"cql": f"space={_cql_string(key)} and type=page", "limit": size,
                      "expand": f"metadata.labels,{RESTRICTION_EXPAND}"}
            for raw in self._pages_of(f"{self._wiki()}rest/api/content/search", params,
                                      f"space {key} restrictions", progress):
                self._remember(raw)
        self._set_pages(pages)

    def list_ids(self, progress: Progress) -> set[str]:
        self._listing(progress)
        return set(self.pages)

    def changed(self, since: str | None, progress: Progress) -> Iterator[SourceRecord]:
        if not self.listed:
            self._listing(progress)
        floor = utc_timestamp(since) if since else None
        ids = sorted({p.id for p in self.pages.values()
                      if floor is None or (p.updated or "") >= floor} | self._restricted_ids())
        size = min(self.cfg.page_size, V2_MAX_LIMIT)
        for start in range(0, len(ids), size):
            params = {"id": ",".join(ids[start:start + size]), "body-format": "storage",
                      "limit": size, "status": ["current", "archived"]}
            for raw in self._pages_of(f"{self._wiki()}api/v2/pages", params, "bodies", progress):
                if raw.get("status") in STATUSES:
                    record = self._cloud_record(raw)
                    if record:
                        yield record

    def _labels(self, page_id: str) -> list[str]:
        if page_id not in self.labels:
            path = f"{self._wiki()}api/v2/pages/{page_id}/labels"
            self.labels[page_id] = [
                str(x["name"]) for x in self._pages_of(path, {"limit": 250}, "labels",
                                                       lambda _: None)
                if x.get("name") and x.get("prefix", "global") != "my"]
        return self.labels[page_id]

    def _cloud_record(self, raw: dict[str, Any]) -> SourceRecord | None:
        page_id = str(raw.get("id", ""))
        info = self.pages.get(page_id)
        storage = ((raw.get("body") or {}).get("storage") or {}).get("value")
        return self._record(raw, info.space if info else self.cfg.scopes[0], storage,
                            utc_timestamp((raw.get("version") or {}).get("createdAt")),
                            self._ancestors(page_id), self._labels(page_id))


class DataCenterConfluence(_Confluence):
    """Confluence Data Center / Server: ``/rest/api/content`` with expansions (one request per
    ``page_size`` pages carries body, version, ancestors, labels and restrictions) and CQL
    search for ``changed(since)`` (``lastmodified >=`` a day early, as CQL reads dates in the
    account's time zone; then compared exactly). ``list_ids`` lists without bodies but with
    ancestors and restrictions, so restricted pages can be re-sent (``id in (..)``) each sync."""

    LIST_EXPAND = f"version,ancestors,{RESTRICTION_EXPAND}"
    FULL_EXPAND = f"body.storage,version,ancestors,metadata.labels,{RESTRICTION_EXPAND}"

    def _next(self, body: dict[str, Any], response: httpx.Response) -> str | None:
        links = body.get("_links") or {}
        link = links.get("next")
        if not link or urlsplit(link).scheme:
            return link
        context = str(links.get("context") or "").rstrip("/")
        if context and link.startswith(context + "/"):
            link = link[len(context):]  # next links are relative to the base, which has it
        return str(link)

    def list_ids(self, progress: Progress) -> set[str]:
        pages: dict[str, PageInfo] = {}
        for key in self.cfg.scopes:
            params = {"spaceKey": key, "type": "page", "status": "current",
                      "expand": self.LIST_EXPAND, "start": 0, "limit": self.cfg.page_size}
            for raw in self._pages_of("rest/api/content", params, f"space {key}", progress):
                page_id, ancestors = str(raw["id"]), raw.get("ancestors") or []
                pages[page_id] = PageInfo(
                    page_id, str(raw.get("title") or ""), key,
                    str(ancestors[-1]["id"]) if ancestors else None,
                    utc_timestamp((raw.get("version") or {}).get("when")),
                    (raw.get("_links") or {}).get("webui"))
                self._remember(raw)
        self._set_pages(pages)
        return set(pages)

    def changed(self, since: str | None, progress: Progress) -> Iterator[SourceRecord]:
        floor = utc_timestamp(since) if since else None
        sent: set[str] = set()
        for key in self.cfg.scopes:
            if floor is None:
                path, params = "rest/api/content", {"spaceKey": key, "type": "page",
                                                    "status": "current", "start": 0}
            else:
                after = datetime.fromisoformat(floor.replace("Z", "+00:00")) - CQL_MARGIN
                path, params = "rest/api/content/search", {
                    "cql": f"space={_cql_string(key)} and type=page and lastmodified >= "
                           f'"{after:%Y/%m/%d %H:%M}"'}
            params |= {"expand": self.FULL_EXPAND, "limit": self.cfg.page_size}
            for raw in self._pages_of(path, params, f"space {key} changed", progress):
                record = self._dc_record(raw, key)
                if record and (floor is None or record.updated >= floor):
                    sent.add(record.id)
                    yield record
        again = sorted(self._restricted_ids() - sent) if floor is not None else []
        for start in range(0, len(again), self.cfg.page_size):
            ids = ", ".join(again[start:start + self.cfg.page_size])
            params = {"cql": f"id in ({ids})", "expand": self.FULL_EXPAND,
                      "limit": self.cfg.page_size}
            for raw in self._pages_of("rest/api/content/search", params, "restricted", progress):
                record = self._dc_record(raw, None)
                if record:
                    yield record

    def _dc_record(self, raw: dict[str, Any], space: str | None) -> SourceRecord | None:
        page_id = str(raw.get("id", ""))
        if raw.get("status") not in STATUSES or raw.get("type", "page") != "page":
            return None
        if not self.base:
            self.base = self.client.base_url.rstrip("/")
        self.restrictions.pop(page_id, None)
        self._remember(raw)
        ancestors = [(str(a["id"]), str(a.get("title") or "")) for a in raw.get("ancestors") or []
                     if a.get("id")]
        info = self.pages.get(page_id)
        space = space or (info.space if info else self.cfg.scopes[0])
        storage = ((raw.get("body") or {}).get("storage") or {}).get("value")
        return self._record(raw, space, storage,
                            utc_timestamp((raw.get("version") or {}).get("when")), ancestors,
                            self.labels.get(page_id, []))


def connector(cfg: SourceConfig, client: PlatformClient) -> Connector:
    """The Cloud or Data Center connector for ``cfg.api``."""
    if not cfg.scopes:
        raise SourceError(f"source {cfg.name}: name the space keys to read "
                          '(spaces = ["IT"])')
    return (CloudConfluence if cfg.api == "cloud" else DataCenterConfluence)(cfg, client)
