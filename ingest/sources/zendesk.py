"""Zendesk Guide (help center) articles as kb records: the REST sync and the mapping.

The Help Center API paths used (developer.zendesk.com, Help Center API reference)::

    GET /api/v2/help_center/{locale}/articles?page[size]=N        every article (cursor pages)
    GET /api/v2/help_center/incremental/articles?start_time=UNIX  articles changed since a time
    GET /api/v2/help_center/{locale}/articles/{id}                one article in the locale
    GET /api/v2/help_center/{locale}/sections, .../categories     "Category > Section" names
    GET /api/v2/help_center/user_segments                         who may read (kb's groups)
    GET /api/v2/users/show_many?ids=1,2                           authors' emails (owner)

The incremental export is time-based: up to 1,000 articles a page, ``next_page`` carries
``start_time=end_time`` (the last article's change), so the article on a page boundary comes
twice (kept once) and the export ends when ``next_page`` is empty or stops moving forward.
Export files (JSON, JSON Lines) are read by :mod:`ingest.sources.zendesk_export`.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from ingest.sources.config import SourceConfig
from ingest.sources.http import PlatformClient, SourceError
from ingest.sources.record import Progress, SourceRecord

log = logging.getLogger(__name__)

HC = "api/v2/help_center"
OUTDATED_TAG = "outdated-translation"
USERS_PER_CALL = 100  # users/show_many takes at most 100 ids


def iso_utc(value: Any) -> str | None:
    """Zendesk's ``2026-11-30T09:15:00Z`` (or any ISO time) as kb's UTC ``...Z`` form."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _inline(text: str | None) -> str:
    return html.escape(text or "", quote=False)


def clean_body(body: str, base_url: str | None) -> str:
    """Zendesk's article HTML for kb: images become their alt text (else their file name),
    ``<pre>`` keeps its text as ``<pre><code>``, relative links (``/hc/en-us/articles/12``)
    become absolute on the help center's address; tables and everything else stay as they are."""
    import lxml.html

    root = lxml.html.fragment_fromstring(body, create_parent="div")
    for img in list(root.iter("img")):
        src = img.get("src") or ""
        label = (img.get("alt") or "").strip() or unquote(urlsplit(src).path.rsplit("/", 1)[-1])
        parent, previous = img.getparent(), img.getprevious()
        text = (f"[{label}]" if label else "") + (img.tail or "")
        if previous is not None:
            previous.tail = (previous.tail or "") + text
        elif parent is not None:
            parent.text = (parent.text or "") + text
        if parent is not None:
            parent.remove(img)
    for pre in root.iter("pre"):
        if pre.find("code") is None:
            code = lxml.html.Element("code")
            code.text, pre.text = pre.text, None
            for child in list(pre):
                code.append(child)
            pre.append(code)
    if base_url:
        for link in root.iter("a"):
            href = link.get("href")
            if href and not urlsplit(href).scheme and not href.startswith("#"):
                link.set("href", urljoin(base_url, href))
    return _inline(root.text) + "".join(lxml.html.tostring(child, encoding="unicode")
                                        for child in root)


@dataclass
class Names:
    """What article ids point at: sections and categories, user segments, authors' emails.

    ``segments`` None means the segments are unknown (an export without them); an id that cannot
    be named becomes a group nobody has (``zendesk-segment-ID``), so the article stays closed.
    """

    sections: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    categories: dict[int, str] = field(default_factory=dict)
    segments: dict[int, str] | None = None
    emails: dict[int, str | None] = field(default_factory=dict)

    def path(self, section_id: Any) -> list[str]:
        """``[category, parent section..., section]``, or ``[section_id]`` when unknown."""
        section = self.sections.get(section_id) if isinstance(section_id, int) else None
        if section is None:
            return [str(section_id)] if section_id is not None else []
        names: list[str] = []
        seen: set[int] = set()
        while section is not None and section.get("id") not in seen:
            seen.add(section.get("id"))  # type: ignore[arg-type]
            names.insert(0, str(section.get("name") or section.get("id")))
            category = section.get("category_id")
            section = self.sections.get(section.get("parent_section_id"))  # type: ignore[arg-type]
        if category in self.categories:
            names.insert(0, self.categories[category])
        return names

    def groups(self, raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
        ids = raw.get("user_segment_ids") or ([raw["user_segment_id"]]
                                              if raw.get("user_segment_id") is not None else [])
        groups = []
        for segment in ids:
            name = (self.segments or {}).get(segment)
            if name is None:
                log.warning("zendesk %s: user segment %s cannot be named; nobody may read it "
                            "in kb until it can", where, segment)
                name = f"zendesk-segment-{segment}"
            groups.append(name)
        return tuple(dict.fromkeys(groups))


def in_scope(scopes: Iterable[str], path: list[str]) -> bool:
    """A scope names a category, a section (at any depth) or a ``Category > Section`` path."""
    wanted = {s.casefold() for s in scopes}
    if not wanted:
        return True
    names = {n.casefold() for n in path}
    paths = {" > ".join(path[:i]).casefold() for i in range(1, len(path) + 1)}
    return bool(wanted & (names | paths))


def to_record(raw: Mapping[str, Any], names: Names, locale: str, where: str,
              base_url: str | None = None) -> SourceRecord | None:
    """One article JSON object as a :class:`SourceRecord`, or None (logged) when unusable."""
    title = str(raw.get("title") or raw.get("name") or "").strip()
    body = raw.get("body")
    body = body if isinstance(body, str) else ""
    updated = iso_utc(raw.get("updated_at"))
    if not title or not body.strip() or updated is None:
        log.warning("zendesk %s: no title, body or updated_at; skipped", where)
        return None
    tags = [str(t) for t in raw.get("label_names") or []]
    if raw.get("outdated") or locale.casefold() in {str(x).casefold()
                                                    for x in raw.get("outdated_locales") or []}:
        tags.append(OUTDATED_TAG)
    edited = iso_utc(raw.get("edited_at")) or updated
    author = raw.get("author_id")
    url = raw.get("html_url") if isinstance(raw.get("html_url"), str) else None
    return SourceRecord(
        id=str(raw["id"]), title=title, body_html=clean_body(body, url or base_url),
        updated=updated, status="draft" if raw.get("draft") else "published",
        owner=names.emails.get(author) if isinstance(author, int) else None,
        groups=names.groups(raw, where), category=" > ".join(names.path(raw.get("section_id")))
        or None, tags=tuple(dict.fromkeys(tags)), url=url, last_reviewed=edited[:10])


class ZendeskConnector:
    """``list_ids`` reads the locale's article list; ``changed`` the incremental export."""

    def __init__(self, cfg: SourceConfig, client: PlatformClient) -> None:
        self.cfg = cfg
        self.client = client
        self.locale = cfg.locale
        self._names: Names | None = None
        self._listed: set[str] | None = None

    def _pages(self, path: str, key: str, progress: Progress | None = None,
               ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a cursor-paginated list (``meta.has_more``, ``links.next``)."""
        url: str | None = path
        params: dict[str, Any] | None = {"page[size]": min(self.cfg.page_size, 100)}
        seen: set[str] = set()
        while url:
            page = self.client.get_json(url, params)
            items = page.get(key) if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise SourceError(f"source {self.cfg.name}: GET {path}: no '{key}' list")
            if progress:
                progress(f"{key}: {len(items)} from {path}")
            yield [item for item in items if isinstance(item, dict) and "id" in item]
            meta, links = page.get("meta") or {}, page.get("links") or {}
            url, params = (links.get("next") if meta.get("has_more") else None), None
            if url in seen:
                raise SourceError(f"source {self.cfg.name}: GET {path}: the next page "
                                  "repeats an earlier one")
            seen.add(url or "")

    def names(self) -> Names:
        """Sections, categories and user segments, read once; scopes checked against them."""
        if self._names is None:
            names = Names(segments={})
            for page in self._pages(f"{HC}/{self.locale}/categories", "categories"):
                names.categories.update({c["id"]: str(c.get("name") or c["id"]) for c in page})
            for page in self._pages(f"{HC}/{self.locale}/sections", "sections"):
                names.sections.update({s["id"]: s for s in page})
            for page in self._pages(f"{HC}/user_segments", "user_segments"):
                names.segments.update({s["id"]: str(s.get("name") or s["id"])  # type: ignore[union-attr]
                                       for s in page})
            known = {n.casefold() for sid in names.sections for n in names.path(sid)}
            known |= {" > ".join(names.path(sid)[:i]).casefold() for sid in names.sections
                      for i in range(1, len(names.path(sid)) + 1)}
            missing = [s for s in self.cfg.scopes if s.casefold() not in known]
            if missing:
                raise SourceError(f"source {self.cfg.name}: no Zendesk category or section "
                                  f"named {', '.join(map(repr, missing))} in locale {self.locale}")
            self._names = names
        return self._names

    def _wanted(self, raw: Mapping[str, Any]) -> bool:
        return in_scope(self.cfg.scopes, self.names().path(raw.get("section_id")))

    def _with_emails(self, articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fetch the emails of authors not seen yet (``users/show_many``, 100 ids a call)."""
        emails = self.names().emails
        todo = sorted({a["author_id"] for a in articles if isinstance(a.get("author_id"), int)}
                      - set(emails))
        for start in range(0, len(todo), USERS_PER_CALL):
            chunk = todo[start:start + USERS_PER_CALL]
            page = self.client.get_json("api/v2/users/show_many",
                                        {"ids": ",".join(map(str, chunk))})
            emails.update({u["id"]: u.get("email") for u in page.get("users") or []
                           if isinstance(u, dict) and "id" in u})
            emails.update({uid: None for uid in chunk if uid not in emails})
        return articles

    def _records(self, articles: list[dict[str, Any]]) -> Iterator[SourceRecord]:
        for raw in self._with_emails(articles):
            record = to_record(raw, self.names(), self.locale, f"article {raw['id']}",
                               self.cfg.url)
            if record is not None:
                yield record

    def list_ids(self, progress: Progress) -> set[str]:
        self.names()
        ids = {str(a["id"]) for page in self._pages(f"{HC}/{self.locale}/articles", "articles",
                                                     progress)
               for a in page if self._wanted(a)}
        self._listed = ids
        return ids

    def changed(self, since: str | None, progress: Progress) -> Iterator[SourceRecord]:
        self.names()
        if since is None:
            for page in self._pages(f"{HC}/{self.locale}/articles", "articles", progress):
                yield from self._records([a for a in page if self._wanted(a)])
            return
        since_iso = iso_utc(since)
        if since_iso is None:
            raise SourceError(f"source {self.cfg.name}: watermark {since!r} is not a time")
        latest: dict[str, dict[str, Any]] = {}
        for page in self._incremental(_epoch(since_iso), progress):
            for raw in page:
                updated = iso_utc(raw.get("updated_at")) or ""
                key = str(raw["id"])
                if updated >= since_iso and updated >= (iso_utc(latest.get(key, {}).get(
                        "updated_at")) or ""):
                    latest[key] = raw
        wanted = [raw for key, raw in latest.items()
                  if (self._listed is None or key in self._listed) and self._wanted(raw)]
        yield from self._records([a for a in map(self._in_locale, wanted) if a is not None])

    def _incremental(self, start: int, progress: Progress) -> Iterator[list[dict[str, Any]]]:
        """Pages of the time-based export: ``next_page`` until it is empty or stops moving."""
        url = f"{HC}/incremental/articles"
        params: dict[str, Any] | None = {"start_time": start}
        while True:
            page = self.client.get_json(url, params)
            articles = page.get("articles") if isinstance(page, dict) else None
            if not isinstance(articles, list):
                raise SourceError(f"source {self.cfg.name}: incremental export: no 'articles'")
            progress(f"incremental articles: {len(articles)} since {start}")
            yield [a for a in articles if isinstance(a, dict) and "id" in a]
            end, following = page.get("end_time"), page.get("next_page")
            if not articles or not following or not isinstance(end, int) or end <= start:
                return
            url, start = following, end
            params = None

    def _in_locale(self, raw: dict[str, Any]) -> dict[str, Any] | None:
        """The article in the configured locale (the export gives each in its own locale)."""
        if str(raw.get("locale") or self.locale).casefold() == self.locale.casefold():
            return raw
        try:
            page = self.client.get_json(f"{HC}/{self.locale}/articles/{raw['id']}")
        except SourceError as exc:
            if exc.status == 404:
                log.info("zendesk article %s: no %s translation", raw["id"], self.locale)
                return None
            raise
        article = page.get("article") if isinstance(page, dict) else None
        return article if isinstance(article, dict) and "id" in article else None


def connector(cfg: SourceConfig, client: PlatformClient) -> ZendeskConnector:
    return ZendeskConnector(cfg, client)
