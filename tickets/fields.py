"""Turning one exported record (field name -> raw value) into a :class:`Ticket`, or the reason
it cannot be one. Shared by every format in :mod:`tickets.importers`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tickets.store import Ticket

#: the fields of a ticket an export's columns can be mapped to (``--map FIELD=COLUMN``)
FIELDS = ("id", "subject", "text", "category", "subcategory", "group", "labels", "groups",
          "opened", "resolved", "resolution")
ALIASES = {"body": "text", "description": "text", "assignment_group": "group",
           "opened_at": "opened", "resolved_at": "resolved", "close_notes": "resolution",
           "summary": "subject", "short_description": "subject", "ticket_id": "id"}
MAX_ID = 200
MAX_TEXT = 100_000
#: date formats of the exports, tried in order before ISO 8601 (Jira CSV: 04/Mar/26 10:22 AM)
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%b/%y %I:%M %p",
                "%d/%b/%Y %I:%M %p", "%d/%b/%y %H:%M", "%d/%b/%y", "%d-%m-%Y %H:%M:%S",
                "%d.%m.%Y %H:%M", "%d.%m.%Y")


@dataclass(frozen=True)
class BadRow:
    """A record that was not imported: where it is (``line 12``; JSON: ``record 3``) and why."""

    line: int
    reason: str
    unit: str = "line"

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.reason}"


def field_name(name: str) -> str:
    """A ``--map`` field name, aliases resolved; ValueError names the known ones."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in FIELDS:
        raise ValueError(f"unknown ticket field {name!r} (known: {', '.join(FIELDS)})")
    return key


def parse_when(value: str) -> str | None:
    """An export's date as ISO 8601 (seconds; the offset kept when given); None if empty.
    ValueError when it is not a date."""
    value = value.strip()
    if not value:
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).isoformat(timespec="seconds")
        except ValueError:
            pass
    iso = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", value.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(iso).isoformat(timespec="seconds")
    except ValueError:
        raise ValueError(f"cannot read {value[:40]!r} as a date") from None


def text_of(value: Any) -> str:
    """A value as plain text: ServiceNow's ``{"display_value", "value"}``, Jira's Atlassian
    Document Format (``{"type": "doc", "content": [...]}``), lists, numbers."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "display_value" in value or "value" in value:
            return text_of(value.get("display_value") or value.get("value"))
        if "name" in value:
            return text_of(value["name"])
        if value.get("type") == "text":
            return str(value.get("text", ""))
        parts = [text_of(c) for c in value.get("content", [])]
        sep = "\n" if value.get("type") in ("doc", "bulletList", "orderedList") else ""
        return sep.join(p for p in parts if p)
    if isinstance(value, list):
        return ", ".join(p for p in (text_of(v) for v in value) if p)
    return str(value)


def split_list(value: Any) -> tuple[str, ...]:
    """Labels or groups: a JSON list, or text split on commas, semicolons or whitespace."""
    if isinstance(value, list):
        items = [text_of(v) for v in value]
    else:
        items = re.split(r"[,;\s]+", text_of(value))
    return tuple(dict.fromkeys(i.strip() for i in items if i.strip()))


def make_ticket(record: dict[str, Any], source: str) -> Ticket:
    """A ticket from a record whose keys are :data:`FIELDS`; ValueError says what is wrong."""
    tid = text_of(record.get("id")).strip()
    if not tid:
        raise ValueError("no ticket id")
    if len(tid) > MAX_ID:
        raise ValueError(f"the ticket id is longer than {MAX_ID} characters")
    subject = " ".join(text_of(record.get("subject")).split())
    body = text_of(record.get("text")).strip()[:MAX_TEXT]
    if not subject and not body:
        raise ValueError(f"ticket {tid}: no subject and no description")
    if not subject:
        subject = " ".join(body.split("\n", 1)[0].split())[:200]
    dates = {}
    for key in ("opened", "resolved"):
        try:
            dates[key] = parse_when(text_of(record.get(key)))
        except ValueError as exc:
            raise ValueError(f"ticket {tid}: {key}: {exc}") from None

    def opt(key: str) -> str | None:
        return " ".join(text_of(record.get(key)).split()) or None

    return Ticket(tid, subject[:1000], body, opt("category"), opt("subcategory"), opt("group"),
                  split_list(record.get("labels")), split_list(record.get("groups")),
                  dates["opened"], dates["resolved"],
                  text_of(record.get("resolution")).strip()[:MAX_TEXT] or None, source)
