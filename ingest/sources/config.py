"""The ``[sources.NAME]`` tables of ``kb.toml``, checked once, with errors that name the field.

    [sources.it]
    type = "servicenow"            # servicenow | confluence | zendesk | folder
    url = "https://acme.service-now.com"
    username_env = "SN_USER"       # secrets only ever by env var name
    password_env = "SN_PASSWORD"   # (or token_env for bearer/API tokens)
    knowledge_bases = ["IT"]       # servicenow: knowledge base titles; confluence: space keys
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import KbError

PLATFORMS = ("servicenow", "confluence", "zendesk")
TYPES = (*PLATFORMS, "folder")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
#: keys a source table may carry; anything else is reported (a typo would silently do nothing)
KNOWN_KEYS = frozenset({"type", "url", "path", "username_env", "password_env", "token_env",
                        "knowledge_bases", "spaces", "sections", "locale",
                        "review_date_field", "api", "page_size"})
#: the scope key's other names: Confluence space keys, Zendesk categories or sections
SCOPE_KEYS = ("knowledge_bases", "spaces", "sections")


@dataclass(frozen=True)
class SourceConfig:
    name: str
    type: str
    url: str | None = None
    path: Path | None = None
    username_env: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    #: servicenow: knowledge base titles (``knowledge_bases``); confluence: space keys
    #: (``spaces``); zendesk: category or section names (``sections``); any of the three keys
    scopes: tuple[str, ...] = ()
    #: zendesk: the help center locale
    locale: str = "en-us"
    #: servicenow: a date field that records reviews (default: sys_updated_on)
    review_date_field: str | None = None
    #: confluence: "cloud" (REST v2) or "datacenter" (/rest/api/content)
    api: str = "cloud"
    page_size: int = 100
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def prefix(self) -> str:
        """Platform article ids are ``NAME:ID``; folder articles keep their own ids."""
        return "" if self.type == "folder" else f"{self.name}:"


def _strings(name: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise KbError(f"source {name}: {key} must be a list of names")
    return tuple(v.strip() for v in value)


def _env_name(name: str, key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise KbError(f"source {name}: {key} must name an environment variable (e.g. SN_USER),"
                      " not hold the secret itself")
    return value


def parse_source(name: str, table: Mapping[str, Any]) -> SourceConfig:
    if not NAME.match(name):
        raise KbError(f"source {name!r}: a name is 1-40 of a-z, 0-9, '-', '_'")
    if not isinstance(table, Mapping):
        raise KbError(f"source {name}: must be a table ([sources.{name}])")
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise KbError(f"source {name}: unknown key(s) {', '.join(unknown)} "
                      f"(known: {', '.join(sorted(KNOWN_KEYS))})")
    kind = table.get("type")
    if kind not in TYPES:
        raise KbError(f"source {name}: type must be one of {', '.join(TYPES)}, not {kind!r}")
    if kind == "folder":
        if not isinstance(table.get("path"), str):
            raise KbError(f"source {name}: a folder source needs path = \"FOLDER\"")
        return SourceConfig(name, kind, path=Path(table["path"]))
    url = table.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise KbError(f"source {name}: url must be the platform's http(s) address")
    given = [k for k in SCOPE_KEYS if k in table]
    if len(given) > 1:
        raise KbError(f"source {name}: give one of {', '.join(given)}, not several")
    scopes = _strings(name, given[0], table[given[0]]) if given else ()
    api = table.get("api", "cloud")
    if api not in ("cloud", "datacenter"):
        raise KbError(f"source {name}: api must be 'cloud' or 'datacenter', not {api!r}")
    size = table.get("page_size", 100)
    if not isinstance(size, int) or not 1 <= size <= 1000:
        raise KbError(f"source {name}: page_size must be a whole number from 1 to 1000")
    return SourceConfig(
        name, kind, url=url.rstrip("/"),
        username_env=_env_name(name, "username_env", table.get("username_env")),
        password_env=_env_name(name, "password_env", table.get("password_env")),
        token_env=_env_name(name, "token_env", table.get("token_env")),
        scopes=scopes, locale=str(table.get("locale", "en-us")),
        review_date_field=table.get("review_date_field"), api=api, page_size=size,
        extra=dict(table))


def parse_sources(tables: Mapping[str, Any]) -> list[SourceConfig]:
    """Every configured source, in the order kb.toml lists them."""
    return [parse_source(name, table) for name, table in tables.items()]
