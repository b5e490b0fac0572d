"""Normalise article metadata from any schema into kb's own keys.

Each source (YAML front matter, HTML ``<meta>``, DOCX core properties, PDF document info, a
``NAME.meta.yaml`` sidecar) gives a flat ``dict``; :func:`normalise` maps it onto kb's keys
through built-in aliases plus any configured in ``Settings.meta_aliases``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import yaml

from core.errors import ArticleError

KB_KEYS = ("id", "title", "owner", "groups", "products", "category", "status",
           "last_reviewed", "valid_until", "url", "tags")

#: other schemas' names for kb's keys, most specific first
BUILTIN_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "kb_id", "article_id", "articleid"),
    "title": ("title", "dc.title", "name", "subject_title"),
    "owner": ("owner", "ms.author", "author", "dc.creator", "creator", "contact", "owner_email"),
    # not "audience": Microsoft Learn's ``audience: ITPro`` names readers, it restricts no one
    "groups": ("groups", "visibility", "allowed_groups", "restricted_to"),
    "products": ("products", "product", "appliesto", "applies_to", "applies-to"),
    "category": ("category", "categories", "ms.custom", "area", "topic"),
    "status": ("status", "state", "lifecycle"),
    "last_reviewed": ("last_reviewed", "last-reviewed", "reviewed", "review_date",
                      "ms.date", "last_updated", "updated", "modified", "date"),
    "valid_until": ("valid_until", "valid-until", "expires", "expiry", "expiry_date",
                    "expiration_date"),
    "url": ("url", "source_url", "canonical", "original_url", "link"),
    "tags": ("tags", "keywords", "labels"),
}

LIST_KEYS = ("groups", "products", "tags")
DATE_KEYS = ("last_reviewed", "valid_until")
EVERYONE = ("everyone", "all", "public", "*")
_STATUS_ALIASES = {"published": "published", "live": "published", "active": "published",
                   "draft": "draft", "in review": "draft", "retired": "retired",
                   "archived": "retired", "obsolete": "retired", "deprecated": "retired"}


class _TextLoader(yaml.SafeLoader):
    """YAML with numbers read as written: ``0x87D00607`` stays an error code, ``1.10`` a version."""


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_TextLoader)  # a SafeLoader: no arbitrary objects


@dataclass(frozen=True)
class Normalised:
    values: dict[str, Any]
    problems: tuple[str, ...]


def split_front_matter(text: str, path: str) -> tuple[dict[str, Any], str]:
    """Split ``---`` YAML front matter from a Markdown body; malformed YAML is an error."""
    if not text.startswith("---"):
        return {}, text
    match = re.match(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", text, re.S)
    if not match:
        raise ArticleError(path, "front matter starts with '---' but has no closing '---' line")
    try:
        data = _load_yaml(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ArticleError(path, f"front matter {_yaml_problem(exc, 2)}") from None
    if not isinstance(data, dict):
        raise ArticleError(path, "front matter must be a mapping of keys to values")
    return {str(k): v for k, v in data.items()}, text[match.end():]


def _yaml_problem(exc: yaml.YAMLError, first_line: int) -> str:
    """``line N: invalid YAML (what is wrong)``, N counted in the file."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"line {mark.line + first_line}: " if mark is not None else ""
    return f"{where}invalid YAML ({problem})"


def read_sidecar(text: str, path: str) -> dict[str, Any]:
    try:
        data = _load_yaml(text.rstrip()) or {}
    except yaml.YAMLError as exc:
        raise ArticleError(path, _yaml_problem(exc, 1)) from None
    if not isinstance(data, dict):
        raise ArticleError(path, "must be a mapping of keys to values")
    return {str(k): v for k, v in data.items()}


def parse_date(value: Any) -> date | None:
    """Read YYYY-MM-DD, M/D/YYYY, ISO date-times and YAML dates; ``ValueError`` otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S", "%B %d, %Y"):
        try:
            return datetime.strptime(text[:19] if "T" in text else text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"cannot read date {text!r} (expected YYYY-MM-DD)")


def as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items: Iterable[Any] = (value if isinstance(value, list | tuple)
                            else re.split(r"[,;]", str(value)))
    out: list[str] = []
    for item in items:
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return tuple(out)


def _category(raw: Any) -> str | None:
    """``ms.custom`` style values carry the category as ``sap:<area>``; others are plain."""
    for item in as_list(raw):
        if item.lower().startswith("sap:"):
            return item[4:].strip() or None
    if isinstance(raw, str) and not raw.lower().startswith(("css", "has-")):
        return raw.strip() or None
    return None


def normalise(raw: Mapping[str, Any], extra_aliases: Mapping[str, list[str]] | None = None,
              ) -> Normalised:
    """Map raw metadata onto kb's keys; problems (bad dates, bad status) are reported, not
    raised."""
    lowered = {str(k).strip().lower(): v for k, v in raw.items()}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key in KB_KEYS:
        names = tuple((extra_aliases or {}).get(key, ())) + BUILTIN_ALIASES[key]
        found = next((n for n in names if n.lower() in lowered
                      and lowered[n.lower()] not in (None, "", [])), None)
        if found is None:
            continue
        value = lowered[found.lower()]
        if key == "category" and found.lower() == "ms.custom":
            value = _category(value)
            if value is None:
                continue
        values[key] = value
    for key in LIST_KEYS:
        if key in values:
            values[key] = as_list(values[key])
    if "groups" in values and any(g.lower() in EVERYONE for g in values["groups"]):
        values["groups"] = ()
    for key in DATE_KEYS:
        if key in values:
            try:
                values[key] = parse_date(values[key])
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
                values[key] = None
    if "status" in values:
        status = _STATUS_ALIASES.get(str(values["status"]).strip().lower())
        if status is None:
            problems.append(f"status: unknown value {values['status']!r} "
                            "(expected draft, published or retired)")
            values.pop("status")
        else:
            values["status"] = status
    for key in ("id", "title", "owner", "category", "url"):
        if key in values:
            values[key] = str(values[key]).strip()
    return Normalised(values, tuple(problems))
