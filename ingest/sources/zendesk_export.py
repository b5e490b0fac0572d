"""Zendesk Guide exports as kb records: the Help Center API's article list JSON
(``{"articles": [...]}`` with any sideloaded ``sections``/``categories``/``user_segments``/
``users``; one page object or an array of pages; or a bare array of articles) or JSON Lines of
article objects. Mapping as in a sync (:mod:`ingest.sources.zendesk`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import KbError
from ingest.sources.config import SourceConfig
from ingest.sources.record import SourceRecord
from ingest.sources.zendesk import Names, in_scope, iso_utc, to_record

log = logging.getLogger(__name__)


def _export_items(path: Path) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, list[Any]]]:
    """Articles (each with where it came from) and sideloaded lists from an export file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise KbError(f"{path}: cannot read the Zendesk export ({exc})") from None
    side: dict[str, list[Any]] = {}
    items: list[tuple[str, dict[str, Any]]] = []
    try:
        data = None if path.suffix.lower() in (".jsonl", ".ndjson") else json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("[") or "\n" not in text.strip():
            raise KbError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
        data = None
    if data is None:  # JSON Lines: one article object a line
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise KbError(f"{path}: line {number}: not JSON ({exc.msg})") from None
            if not isinstance(item, dict):
                raise KbError(f"{path}: line {number}: not an article object")
            items.append((f"line {number}", item))
        return items, side
    pages = data if isinstance(data, list) else [data]
    if pages and all(isinstance(p, dict) and "articles" not in p for p in pages):
        pages = [{"articles": pages}]  # a bare array of article objects
    for number, page in enumerate(pages, 1):
        if not isinstance(page, dict) or not isinstance(page.get("articles"), list):
            raise KbError(f"{path}: page {number}: expected {{\"articles\": [...]}}")
        for index, item in enumerate(page["articles"], 1):
            if not isinstance(item, dict):
                raise KbError(f"{path}: page {number} article {index}: not an object")
            items.append((f"page {number} article {index}", item))
        for key in ("sections", "categories", "user_segments", "users"):
            side.setdefault(key, []).extend(x for x in page.get(key) or []
                                            if isinstance(x, dict) and "id" in x)
    return items, side


def read_export(path: Path, cfg: SourceConfig) -> Iterator[SourceRecord]:
    """Articles from a Zendesk export: the API's list JSON (``{"articles": [...]}``, with any
    sideloaded ``sections``/``categories``/``user_segments``/``users``; one object or an array
    of pages) or JSON Lines of article objects. Only the latest version of each id, only
    ``cfg.locale``. Without sections the category is the section id; without segments an
    article restricted to a segment is readable by nobody (a warning names it)."""
    items, side = _export_items(path)
    names = Names(sections={s["id"]: s for s in side.get("sections", [])},
                  categories={c["id"]: str(c.get("name") or c["id"])
                              for c in side.get("categories", [])},
                  segments={s["id"]: str(s.get("name") or s["id"])
                            for s in side.get("user_segments", [])} or None,
                  emails={u["id"]: u.get("email") for u in side.get("users", [])})
    if cfg.scopes and not names.sections:
        raise KbError(f"{path}: source {cfg.name} has scopes, but the export has no sections "
                      "to match them (export with include=sections,categories)")
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    other_locale = 0
    for where, raw in items:
        if raw.get("id") is None:
            raise KbError(f"{path}: {where}: the article has no id")
        if str(raw.get("locale") or cfg.locale).casefold() != cfg.locale.casefold():
            other_locale += 1
            continue
        key = str(raw["id"])
        if key not in latest or (iso_utc(raw.get("updated_at")) or "") >= (
                iso_utc(latest[key][1].get("updated_at")) or ""):
            latest[key] = (where, raw)
    if other_locale:
        log.warning("%s: %d article(s) in other locales than %s skipped", path, other_locale,
                    cfg.locale)
    for key, (where, raw) in latest.items():
        if not in_scope(cfg.scopes, names.path(raw.get("section_id"))):
            continue
        record = to_record(raw, names, cfg.locale, f"{path.name}: {where} (article {key})",
                           cfg.url)
        if record is not None:
            yield record
