"""The product lifecycle table: which products are past end of support, and since when.

The table is data (``lifecycle.yaml`` beside this module, with a source for every date); users
add or correct entries with ``KB_LIFECYCLE_FILE``. Entries are tried in order, first match wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from core.errors import ConfigError
from ingest.metadata import parse_date

BUILTIN_TABLE = Path(__file__).with_name("lifecycle.yaml")


@dataclass(frozen=True)
class LifecycleEntry:
    name: str
    patterns: tuple[re.Pattern[str], ...]
    end_of_support: date
    source: str = ""

    def matches(self, product: str) -> bool:
        text = product.lower()
        return any(p.search(text) for p in self.patterns)


def parse_table(text: str, where: str) -> tuple[LifecycleEntry, ...]:
    """Entries from YAML text; ``where`` names the file in error messages."""
    try:
        data = yaml.safe_load(text) or []
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, list):
        raise ConfigError(f"{where}: must be a list of entries (name, match, end_of_support)")
    entries: list[LifecycleEntry] = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict) or not {"name", "match", "end_of_support"} <= set(item):
            raise ConfigError(f"{where}: entry {number} needs name, match and end_of_support")
        raw = item["match"] if isinstance(item["match"], list) else [item["match"]]
        try:
            patterns = tuple(re.compile(str(p)) for p in raw)
            eos = parse_date(item["end_of_support"])
        except (re.error, ValueError) as exc:
            raise ConfigError(f"{where}: entry {number} ({item['name']}): {exc}") from None
        if eos is None:
            raise ConfigError(f"{where}: entry {number} ({item['name']}): no end_of_support")
        entries.append(LifecycleEntry(str(item["name"]), patterns, eos,
                                      str(item.get("source") or "")))
    return tuple(entries)


def load_lifecycle(user_file: Path | None = None) -> tuple[LifecycleEntry, ...]:
    """The user's entries (tried first), then kb's built-in table."""
    builtin = parse_table(BUILTIN_TABLE.read_text(encoding="utf-8"), BUILTIN_TABLE.name)
    if user_file is None:
        return builtin
    try:
        text = Path(user_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"lifecycle file {user_file}: cannot be read ({exc.strerror})") from None
    return parse_table(text, str(user_file)) + builtin


def lookup(product: str, table: tuple[LifecycleEntry, ...]) -> LifecycleEntry | None:
    return next((entry for entry in table if entry.matches(product)), None)
