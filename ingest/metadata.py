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
from core.visibility import ACCESS_FIELDS

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

#: front-matter keys that are not kb's but are known and fine (Microsoft Learn, Jekyll, ...)
KNOWN_FOREIGN_KEYS = (
    "description", "ms.topic", "ms.author", "ms.reviewer", "ms.prod", "ms.service",
    "ms.subservice", "ms.technology", "ms.collection", "ms.assetid", "ms.editor", "ms.workload",
    "ms.localizationpriority", "ms.search.appverid", "manager", "audience", "search.appverid",
    "localization_priority", "f1.keywords", "f1_keywords", "adobe-target", "editor", "robots",
    "layout", "permalink", "summary", "version", "language", "lang", "type", "article_type",
    "content_type", "subject", "creationdate", "moddate", "keywords")

LIST_KEYS = ("groups", "products", "tags")
DATE_KEYS = ("last_reviewed", "valid_until")
EVERYONE = ("everyone", "all", "public", "*")
_STATUS_ALIASES = {"published": "published", "live": "published", "active": "published",
                   "draft": "draft", "in review": "draft", "retired": "retired",
                   "archived": "retired", "obsolete": "retired", "deprecated": "retired"}


class _TextLoader(yaml.SafeLoader):
    """YAML with numbers read as written: ``0x87D00607`` stays an error code, ``1.10`` a version."""


def _timestamp_or_text(loader: _TextLoader, node: yaml.ScalarNode) -> Any:
    """A YAML date as a date; one that is no real day (``2026-13-45``) as the text written,
    for the metadata rules to report as unreadable instead of failing the whole file."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_TextLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)
_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


#: most YAML nodes metadata may expand to, aliases counted each time they are used: a few
#: hundred bytes of nested ``&a [*b, *b, ...]`` anchors expand to billions ("billion laughs")
MAX_YAML_NODES = 10_000


class YamlTooLarge(yaml.YAMLError):
    """The document expands to more than :data:`MAX_YAML_NODES` nodes, or refers to itself."""


def _expanded_nodes(node: yaml.Node, memo: dict[int, int], open_: set[int]) -> int:
    """How many nodes ``node`` stands for once every alias is expanded (capped just above the
    limit, so a bomb is measured in a few steps)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in open_:
        raise YamlTooLarge("an alias refers to the node that contains it")
    open_.add(key)
    total = 1
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    for child in children:
        total += _expanded_nodes(child, memo, open_)
        if total > MAX_YAML_NODES:
            break
    open_.discard(key)
    memo[key] = min(total, MAX_YAML_NODES + 1)
    return memo[key]


def _load_yaml(text: str) -> Any:
    """The YAML document as Python values (a SafeLoader: no arbitrary objects), refused with a
    :class:`YamlTooLarge` when aliases would expand it past :data:`MAX_YAML_NODES` nodes."""
    loader = _TextLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_nodes(node, {}, set()) > MAX_YAML_NODES:
            raise YamlTooLarge(f"expands to over {MAX_YAML_NODES:,} values (aliases counted "
                               "each time they are used)")
        return loader.construct_document(node)
    except RecursionError:
        raise YamlTooLarge("nested too deeply") from None
    finally:
        loader.dispose()


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


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, swaps."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def typo_of(key: str, known: frozenset[str]) -> str | None:
    """The known key this unknown key is probably a misspelling of, or None."""
    lowered = key.strip().lower()
    if lowered in known or lowered.startswith("_"):
        return None
    allowed = 1 if len(lowered) <= 5 else 2
    best = min(known, key=lambda k: (edit_distance(lowered, k), k))
    return best if edit_distance(lowered, best) <= allowed else None


def _aliases(key: str, extra_aliases: Mapping[str, list[str]] | None) -> tuple[str, ...]:
    return tuple((extra_aliases or {}).get(key, ())) + BUILTIN_ALIASES[key]


def known_keys(extra_aliases: Mapping[str, list[str]] | None = None,
               more: Iterable[str] = ()) -> frozenset[str]:
    """Every front-matter key kb reads or knows to be fine (lower case): a key near one of
    these but not one of them is probably a typo (:func:`typo_of`)."""
    names = {n.lower() for key in KB_KEYS for n in _aliases(key, extra_aliases)}
    return frozenset(names | set(KNOWN_FOREIGN_KEYS) | {k.lower() for k in more})


def access_typos(raw: Mapping[str, Any], known: frozenset[str],
                 extra_aliases: Mapping[str, list[str]] | None = None) -> dict[str, str]:
    """``{key: kb field}`` of the keys that look like typos of a key deciding access
    (``group`` for ``groups``, ``stauts`` for ``status``): the article's access is unclear."""
    access = {n.lower(): field for field in ACCESS_FIELDS for n in _aliases(field, extra_aliases)}
    out = {}
    for key in raw:
        meant = typo_of(str(key), known)
        if meant in access:
            out[str(key)] = access[meant]
    return out


def _group_names(value: Any) -> tuple[str, ...] | None:
    """Group names from a string or a list of strings; None when it is anything else."""
    if isinstance(value, str):
        return as_list(value)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return as_list(value)
    return None


def normalise(raw: Mapping[str, Any], extra_aliases: Mapping[str, list[str]] | None = None,
              ) -> Normalised:
    """Map raw metadata onto kb's keys; problems (bad dates, bad status, unreadable groups,
    keys that look like typos of ``groups`` or ``status``) are reported, not raised. A
    problem is ``"<kb key>: what is wrong"``; ``core.visibility`` keeps an article whose
    groups or status has one out of service (access fails closed)."""
    lowered = {str(k).strip().lower(): v for k, v in raw.items()}
    values: dict[str, Any] = {}
    problems: list[str] = [
        f"{field}: front-matter key '{key}' looks like a typo of '{field}'; who may see the "
        "article is unclear" for key, field in access_typos(
            raw, known_keys(extra_aliases), extra_aliases).items()]
    for key in KB_KEYS:
        names = _aliases(key, extra_aliases)
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
    if "groups" in values:
        groups = _group_names(values["groups"])
        if groups is None:
            problems.append(f"groups: expected a list of group names, got "
                            f"{str(values['groups'])[:100]!r}")
        values["groups"] = groups or ()
    for key in LIST_KEYS:
        if key in values and key != "groups":
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
