"""ServiceNow Knowledge (``kb_knowledge``) as a kb source: the Table API sync and the mapping.

Sync reads ``GET /api/now/table/kb_knowledge`` (encoded ``sysparm_query``, offset pages followed
through the ``Link: <...>; rel="next"`` header) with ``sysparm_display_value=all``, so each field
is ``{"value", "display_value"}``; user criteria names come from ``/api/now/table/user_criteria``.
Export files (XML or a saved JSON answer) are read by :mod:`ingest.sources.servicenow_export`.

One article number can have several versions (article versioning): readers see the latest
published one while a checked-out draft is edited, so that is the one kb keeps; a number whose
latest version is retired (or outdated) is retired, one that was never published is a draft.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from ingest.sources.config import SourceConfig
from ingest.sources.http import PlatformClient, SourceError
from ingest.sources.record import Progress, SourceRecord

log = logging.getLogger(__name__)

Row = dict[str, Any]

ARTICLES = "api/now/table/kb_knowledge"
CRITERIA = "api/now/table/user_criteria"
#: full records; dot-walked author.email and kb_category.full_category save a lookup each
FIELDS = ("sys_id,number,version,latest,short_description,text,workflow_state,valid_to,"
          "sys_updated_on,author,author.email,ownership_group,kb_category,"
          "kb_category.full_category,kb_knowledge_base,meta,can_read_user_criteria,"
          "cannot_read_user_criteria")
LIST_FIELDS = "number,sys_id,workflow_state,latest,version"
#: workflow_state -> kb status; "pending_retirement" is still published (retirement awaits
#: approval), "scheduled_publish" not yet; anything unknown is a draft (never answered from)
STATUSES = {"published": "published", "pending_retirement": "published", "draft": "draft",
            "review": "draft", "scheduled_publish": "draft", "outdated": "retired",
            "retired": "retired"}
#: a new version in these states leaves the previous published version in front of readers
UNPUBLISHED = ("draft", "review", "scheduled_publish")
#: the group of an article with "cannot read" user criteria: kb cannot express a deny rule, so
#: the article is closed to every kb reader unless an admin deliberately grants this group
CANNOT_READ_GROUP = "servicenow-cannot-read"
ARTICLE_LINK = re.compile(r"[?&]sysparm_article=(KB\d+)", re.IGNORECASE)
SYS_ID_LINK = re.compile(r"kb_knowledge\.do\?sys_id=([0-9a-f]{32})", re.IGNORECASE)
NUMBERS_PER_QUERY = 50


def value(row: Row, field: str) -> str:
    """A field's stored value (``display_value=all`` answers, plain answers, exports alike)."""
    item = row.get(field)
    if isinstance(item, dict):
        item = item.get("value")
    return "" if item is None else str(item)


def display(row: Row, field: str) -> str:
    item = row.get(field)
    if isinstance(item, dict):
        item = item.get("display_value") or item.get("value")
    return "" if item is None else str(item)


def iso_utc(stamp: str) -> str:
    """``2026-11-30 09:15:00`` (ServiceNow's UTC format) -> ``2026-11-30T09:15:00Z``."""
    return stamp.strip().replace(" ", "T") + "Z" if stamp.strip() else ""


def glide_time(iso: str) -> str:
    """An ISO timestamp -> ServiceNow's ``yyyy-MM-dd HH:mm:ss`` in UTC (a plain date-time in
    an encoded query is read as UTC)."""
    when = datetime.fromisoformat(iso.strip())
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _version(row: Row) -> tuple[Decimal, str]:
    try:
        number = Decimal(value(row, "version") or "0")
    except InvalidOperation:
        number = Decimal(0)
    return number, value(row, "sys_updated_on")


def current_version(versions: list[Row]) -> tuple[Row, str]:
    """The version kb keeps of one article number, and the number's last change (UTC).

    The latest version (``latest=true``, else the highest ``version``) decides; while it is a
    draft or in review, the newest published version is still what readers see."""
    latest = [r for r in versions if value(r, "latest") == "true"] or versions
    chosen = max(latest, key=_version)
    if value(chosen, "workflow_state") in UNPUBLISHED:
        published = [r for r in versions
                     if value(r, "workflow_state") in ("published", "pending_retirement")]
        chosen = max(published, key=_version) if published else chosen
    return chosen, max(value(r, "sys_updated_on") for r in versions)


def by_number(rows: Iterable[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = {}
    for row in rows:
        grouped.setdefault(value(row, "number"), []).append(row)
    return grouped


def criteria_ids(row: Row, field: str) -> list[str]:
    return [i.strip() for i in value(row, field).split(",") if i.strip()]


def groups_of(row: Row, names: Mapping[str, str]) -> tuple[str, ...]:
    """``can_read`` criteria names (any of them may read); ``cannot_read`` closes the article
    (see :data:`CANNOT_READ_GROUP`). A criterion whose name is unknown stays a group nobody
    has (``user_criteria:SYS_ID``), so a missing name never opens an article."""
    if criteria_ids(row, "cannot_read_user_criteria"):
        return (CANNOT_READ_GROUP,)
    return tuple(dict.fromkeys(names.get(i) or f"user_criteria:{i}"
                               for i in criteria_ids(row, "can_read_user_criteria")))


def article_url(base_url: str, number: str) -> str:
    return f"{base_url}/kb_view.do?sysparm_article={number}"


def _replace_with_text(element: Any, text: str) -> None:
    parent, previous = element.getparent(), element.getprevious()
    text += element.tail or ""
    if previous is not None:
        previous.tail = (previous.tail or "") + text
    else:
        parent.text = (parent.text or "") + text
    parent.remove(element)


def clean_body(html: str, base_url: str, sys_ids: Mapping[str, str]) -> str:
    """Article HTML kb can read offline: images become their alt text (or file name), a
    ``<pre>`` without ``<code>`` gets one, links to other articles become their kb_view URL
    (``sys_ids`` maps known article sys_ids to numbers), relative links become absolute."""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    host = urlsplit(base_url).hostname
    for script in list(root.iter("script", "style")):
        _replace_with_text(script, "")
    for img in list(root.iter("img")):
        name = urlsplit(img.get("src") or "").path.rsplit("/", 1)[-1]
        alt = (img.get("alt") or "").strip()
        _replace_with_text(img, alt or ("" if name.endswith(".do") else name) or "image")
    for pre in root.iter("pre"):
        if pre.find("code") is None:
            code = etree.SubElement(pre, "code")
            code.text, pre.text = pre.text, None
            for child in list(pre)[:-1]:
                code.append(child)
    for link in root.iter("a"):
        href = (link.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:")):
            continue
        parts = urlsplit(href)
        if parts.hostname not in (None, host):
            continue
        article = ARTICLE_LINK.search(href)
        by_id = SYS_ID_LINK.search(href)
        if article:
            link.set("href", article_url(base_url, article.group(1).upper()))
        elif by_id and by_id.group(1) in sys_ids:
            link.set("href", article_url(base_url, sys_ids[by_id.group(1)]))
        else:
            link.set("href", urljoin(base_url + "/", href))
    return lxml.html.tostring(root, encoding="unicode")


def tags_of(meta: str) -> tuple[str, ...]:
    words = meta.split(",") if "," in meta else meta.split()
    return tuple(dict.fromkeys(w.strip() for w in words if w.strip()))


def to_record(row: Row, updated: str, base_url: str, names: Mapping[str, str],
              review_field: str | None = None,
              sys_ids: Mapping[str, str] | None = None) -> SourceRecord | None:
    """One ``kb_knowledge`` row -> a :class:`SourceRecord`; None (logged) if unmappable."""
    number, title, body = value(row, "number"), display(row, "short_description").strip(), \
        value(row, "text")
    problem = ("no number" if not number else "no short_description" if not title
               else "no text" if not body.strip() else "")
    try:
        html = "" if problem else clean_body(body, base_url, sys_ids or {})
    except (etree.ParserError, ValueError) as exc:
        problem = f"the text is not readable HTML ({exc})"
    if problem:
        log.warning("servicenow: skipping article %s (sys_id %s): %s",
                    number or "?", value(row, "sys_id") or "?", problem)
        return None
    reviewed = value(row, review_field or "sys_updated_on") or value(row, "sys_updated_on")
    return SourceRecord(
        id=number, title=title, body_html=html,
        updated=iso_utc(updated or value(row, "sys_updated_on")),
        status=STATUSES.get(value(row, "workflow_state"), "draft"),
        owner=(value(row, "author.email") or display(row, "author")
               or display(row, "ownership_group") or None),
        groups=groups_of(row, names),
        category=value(row, "kb_category.full_category") or display(row, "kb_category") or None,
        tags=tags_of(value(row, "meta")), url=article_url(base_url, number),
        last_reviewed=reviewed[:10] or None, valid_until=value(row, "valid_to")[:10] or None)


class ServiceNowConnector:
    """:class:`~ingest.sources.record.Connector` over the Table API (see the module doc)."""

    def __init__(self, cfg: SourceConfig, client: PlatformClient) -> None:
        for title in cfg.scopes:
            if "," in title:
                raise SourceError(f"source {cfg.name}: knowledge base title {title!r}: a title "
                                  "with a comma cannot be put in an encoded query (IN list)")
        self.cfg, self.client = cfg, client
        self.base_url = (cfg.url or client.base_url).rstrip("/")
        review = cfg.review_date_field
        if review and not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?", review):
            raise SourceError(f"source {cfg.name}: review_date_field must be a field name of "
                              f"kb_knowledge (e.g. u_last_review), not {review!r}")
        self.fields = FIELDS + (f",{review}" if review and review not in FIELDS.split(",") else "")
        self.names: dict[str, str] = {}
        self.sys_ids: dict[str, str] = {}

    def _query(self, *conditions: str) -> str:
        scope = ("kb_knowledge_base.titleIN" + ",".join(t.replace("^", "^^")
                                                          for t in self.cfg.scopes)
                 if self.cfg.scopes else "")
        return "^".join(c for c in (scope, *conditions) if c)

    def _pages(self, path: str, query: str, fields: str, progress: Progress | None,
               what: str = "articles") -> Iterator[list[Row]]:
        params: dict[str, Any] | None = {
            "sysparm_query": query, "sysparm_fields": fields, "sysparm_limit": self.cfg.page_size,
            "sysparm_offset": 0, "sysparm_display_value": "all",
            "sysparm_exclude_reference_link": "true"}
        url: str | None = path
        seen = 0
        while url:
            response = self.client.get(url, params)
            try:
                rows = response.json()["result"]
            except (ValueError, KeyError, TypeError):
                rows = None
            if not isinstance(rows, list):
                raise SourceError(f"source {self.cfg.name}: GET {path}: the answer has no "
                                  "'result' list")
            seen += len(rows)
            if progress:
                total = response.headers.get("X-Total-Count", "?")
                progress(f"source {self.cfg.name}: {what} {seen}/{total}")
            yield rows
            url, params = response.links.get("next", {}).get("url") if rows else None, None

    def list_ids(self, progress: Progress) -> set[str]:
        numbers: set[str] = set()
        for rows in self._pages(ARTICLES, self._query("ORDERBYsys_created_on"), LIST_FIELDS,
                                progress):
            for row in rows:
                numbers.add(value(row, "number"))
                self.sys_ids[value(row, "sys_id")] = value(row, "number")
        numbers.discard("")
        return numbers

    def changed(self, since: str | None, progress: Progress) -> Iterator[SourceRecord]:
        try:
            condition = f"sys_updated_on>={glide_time(since)}" if since else ""
        except ValueError:
            raise SourceError(f"source {self.cfg.name}: the watermark {since!r} is not an ISO "
                              "timestamp") from None
        done: set[str] = set()
        for rows in self._pages(ARTICLES, self._query(condition, "ORDERBYsys_updated_on"),
                                self.fields, progress):
            yield from self._records(rows, done, progress)

    def _records(self, rows: list[Row], done: set[str],
                 progress: Progress) -> Iterator[SourceRecord]:
        """The records of one page's article numbers (each number once per sync): a number
        whose page rows do not settle its current version gets all its versions fetched."""
        grouped = {n: v for n, v in by_number(rows).items() if n and n not in done}
        unsettled = [n for n, versions in grouped.items() if not self._settled(versions)]
        for start in range(0, len(unsettled), NUMBERS_PER_QUERY):
            chunk = unsettled[start:start + NUMBERS_PER_QUERY]
            query = self._query("numberIN" + ",".join(chunk), "ORDERBYnumber")
            for page in self._pages(ARTICLES, query, self.fields, progress, "versions"):
                for number, versions in by_number(page).items():
                    if number in grouped:
                        known = {value(r, "sys_id") for r in grouped[number]}
                        grouped[number] += [r for r in versions if value(r, "sys_id") not in known]
        chosen = {n: current_version(v) for n, v in grouped.items()}
        self._resolve_names(row for row, _ in chosen.values())
        for number, (row, updated) in chosen.items():
            done.add(number)
            self.sys_ids[value(row, "sys_id")] = number
            record = to_record(row, updated, self.base_url, self.names,
                               self.cfg.review_date_field, self.sys_ids)
            if record is not None:
                yield record

    @staticmethod
    def _settled(versions: list[Row]) -> bool:
        """Do these rows decide the number's version? Yes without versioning (no ``latest``
        field) or when the latest version is among them and is not a checked-out draft."""
        return "latest" not in versions[0] or any(
            value(r, "latest") == "true"
            and value(r, "workflow_state") not in UNPUBLISHED for r in versions)

    def _resolve_names(self, rows: Iterable[Row]) -> None:
        wanted = {i for row in rows for field in ("can_read_user_criteria",
                                                  "cannot_read_user_criteria")
                  for i in criteria_ids(row, field)} - set(self.names)
        ids = sorted(wanted)
        for start in range(0, len(ids), NUMBERS_PER_QUERY):
            chunk = ids[start:start + NUMBERS_PER_QUERY]
            for page in self._pages(CRITERIA, "sys_idIN" + ",".join(chunk), "sys_id,name", None,
                                    "user criteria"):
                for row in page:
                    self.names[value(row, "sys_id")] = value(row, "name")
            for missing in set(chunk) - set(self.names):
                self.names[missing] = ""   # unknown: stays user_criteria:SYS_ID


def connector(cfg: SourceConfig, client: PlatformClient) -> ServiceNowConnector:
    return ServiceNowConnector(cfg, client)
