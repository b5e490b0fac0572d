"""The product lifecycle table, and the products an article names.

The table is data (``lifecycle.yaml`` beside this module, with a source for every date); users
add or correct entries with ``KB_LIFECYCLE_FILE``. Entries are tried in order, first match wins;
``end_of_support: ongoing`` marks a product with no announced end (Modern Lifecycle Policy).

:func:`article_products` reads which products an article is about and where it says so: its
applies-to list, an "Applies to:" / "Original product version:" line, its title, its headings,
and the text (product + version mentions such as "Exchange 2010", "Windows Server 2008 R2",
"Office Professional Plus 2013", plus cloud services that have no version, "Exchange Online").
A product the table does not know is *unknown*: reported, never assumed supported.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from core.errors import ConfigError
from core.types import Article, Block
from ingest.metadata import parse_date

BUILTIN_TABLE = Path(__file__).with_name("lifecycle.yaml")
#: ``end_of_support`` of a product with no announced end
ONGOING = date.max
_ONGOING_WORDS = ("ongoing", "none", "modern")


@dataclass(frozen=True)
class LifecycleEntry:
    name: str
    patterns: tuple[re.Pattern[str], ...]
    end_of_support: date
    source: str = ""

    def matches(self, product: str) -> bool:
        text = product.lower()
        return any(p.search(text) for p in self.patterns)

    def ended(self, as_of: date) -> bool:
        """Past end of support on ``as_of`` (the end date itself is still supported)."""
        return self.end_of_support < as_of

    @property
    def end_text(self) -> str:
        return "ongoing" if self.end_of_support == ONGOING else self.end_of_support.isoformat()


def _end_of_support(value: object) -> date | None:
    if str(value).strip().lower() in _ONGOING_WORDS:
        return ONGOING
    return parse_date(value)


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
            eos = _end_of_support(item["end_of_support"])
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


#: answers of :func:`lookup` per table (held by identity, so a new table starts afresh)
_LOOKUPS: dict[int, tuple[tuple[LifecycleEntry, ...], dict[str, LifecycleEntry | None]]] = {}
_LOOKUPS_MAX = 50_000


def lookup(product: str, table: tuple[LifecycleEntry, ...]) -> LifecycleEntry | None:
    """The first entry whose pattern matches the product name (remembered per table)."""
    held = _LOOKUPS.get(id(table))
    if held is None or held[0] is not table or len(held[1]) > _LOOKUPS_MAX:
        if len(_LOOKUPS) >= 8:
            _LOOKUPS.clear()
        held = _LOOKUPS[id(table)] = (table, {})
    answers = held[1]
    key = product.lower()
    if key not in answers:
        answers[key] = next((entry for entry in table if entry.matches(key)), None)
    return answers[key]


# --- product names in text ---------------------------------------------------------------------

_FAMILIES = (r"Windows(?:\s+(?:Server|Small\s+Business\s+Server|SBS|Storage\s+Server|Web\s+Server"
             r"|Embedded(?:\s+Standard)?|Home\s+Server|MultiPoint\s+Server|Essentials))?"
             r"|Exchange(?:\s+Server)?|SharePoint(?:\s+(?:Server|Foundation|Designer|Services))?"
             r"|Office|Outlook|Word|Excel|PowerPoint|Access|Publisher|OneNote|Visio"
             r"|Project(?:\s+Server)?|InfoPath|FrontPage|Lync(?:\s+Server)?"
             r"|Skype\s+for\s+Business(?:\s+Server)?|SQL\s+Server|System\s+Center"
             r"|Configuration\s+Manager|Hyper-V\s+Server|Dynamics\s+CRM|Groove|SBS")
_YEAR = r"(?:19|20)\d\d(?:\s+R2)?"
_WINDOWS = r"XP|Vista|RT\s*8\.1|RT|NT\s+4\.0|NT\s+3\.51|ME|98|95|8\.1|7|8|10|11"
_WINDOWS_MORE = r"8\.1|7|8|10|11"
_IE = "[5-9]|1[01]"
_NET = r"[1-4](?:\.\d){1,2}"
#: editions between a family and its version: "Office Professional Plus 2013"
_EDITION = r"(?P<edition>(?:\s+(?:[A-Z][A-Za-z]+|for|and)){0,3}?)"
_START = r"(?<![\w.\\/-])(?:Microsoft\s+)?"
_END = r"(?![\w]|\.\d)"


def _more(version: str) -> str:
    """More versions of the same family in a list: "Exchange 2010, 2013 and 2016"."""
    return rf"(?P<more>(?:\s*(?:,\s*and|,\s*or|,|/|\band\b|\bor\b)\s*(?:{version})(?![\w.]))*)"


_MENTIONS = (
    re.compile(rf"{_START}(?P<family>{_FAMILIES}){_EDITION}\s+(?P<version>{_YEAR}){_END}"
               rf"(?P<mac>\s+for\s+Mac)?{_more(_YEAR)}"),
    re.compile(rf"{_START}(?P<family>Windows)(?P<edition>)\s+(?P<version>{_WINDOWS}){_END}"
               rf"(?P<mac>){_more(_WINDOWS_MORE)}"),
    re.compile(rf"{_START}(?P<family>Internet\s+Explorer|IE)(?P<edition>)\s*"
               rf"(?P<version>{_IE}){_END}(?P<mac>){_more(_IE)}"),
    re.compile(rf"(?<![\w-])(?P<family>\.NET\s+Framework)(?P<edition>)\s+"
               rf"(?P<version>{_NET}){_END}(?P<mac>){_more(_NET)}"),
    re.compile(rf"{_START}(?P<family>Office|Word|Excel|Outlook|PowerPoint|Access|FrontPage|Visio"
               rf"|Publisher|Project){_EDITION}\s+(?P<version>97|XP){_END}(?P<mac>)(?P<more>)"),
)
#: products named without a version: cloud services, and retired products that had one version
_NAMED = re.compile(
    r"(?<![\w.\\/-])(?:Microsoft\s+)?(?:Exchange\s+Online|SharePoint\s+Online|OneDrive"
    r"(?:\s+for\s+Business)?|Microsoft\s+365|Office\s+365|Microsoft\s+Teams|Intune"
    r"|Azure\s+(?:AD|Active\s+Directory)|Microsoft\s+Entra(?:\s+ID)?|Entra\s+ID"
    r"|Microsoft\s+Edge(?:\s+Legacy)?|Internet\s+Explorer(?!\s+(?:mode|\d))"
    r"|Skype\s+for\s+Business\s+Online|Lync\s+Online|Silverlight|Outlook\s+on\s+the\s+web"
    r"|Outlook\s+for\s+(?:iOS|Android))(?![\w-])")
_INLINE_CODE = re.compile(r"`[^`]*`")
#: list items that qualify the product before them ("Windows 10, version 1809"), not products
_QUALIFIER = re.compile(r"(?i)^\s*(version\s+\S+|all editions|service pack \d+|sp\s?\d)\s*$")
#: a line that lists what the article applies to, in the first blocks of the body
_APPLIES_LINE = re.compile(r"^[_*\s]*(applies to|original product version|product version"
                           r"|affected products?)[_*\s]*:[_*\s]*(.+)$", re.I)
_KB_NUMBER = re.compile(r"[_*\s]*original kb number[_*\s]*:.*$", re.I)
#: words before a product that make the article's scenario depend on it
_SCENARIO = re.compile(r"(?i)\b(co-?exist\w*|interop\w*|migrat\w*\s+from|upgrad\w*\s+from"
                       r"|mixed|side[- ]by[- ]side\s+with|in\s+a\s+hybrid\s+with|running"
                       r"|that\s+runs?|you(?:'re|\s+are)\s+using|(?:if|when)\s+you\s+use)\b"
                       r"[^.;:]{0,50}$")
#: sections that describe the scenario: a product named there is one the issue needs
_SCENARIO_SECTION = re.compile(r"(?i)^\s*(the\s+)?(symptoms?|issue|problem|scenario)\b")
_NEGATION = re.compile(r"(?i)\b(not|never|no longer|unlike|except)\b|n't\b")
#: a product followed by these names a range that goes on to current versions, not a need
_RANGE = re.compile(r"(?i)\s*,?\s*(?:and|or)\s+(?:a\s+|the\s+)?(?:later|newer|above|higher)\b"
                    r"|\s*\+")
#: a short line without end punctuation reads as a heading ("Activating on Windows 8.1")
HEADING_LINE_WORDS = 10


_DIGITS = re.compile(r"\d\d\d\d")
#: cheap tests that a pattern can match at all (most paragraphs name no product)
_HINTS: tuple[Callable[[str], bool], ...] = (
    lambda text: _DIGITS.search(text) is not None,
    lambda text: "Windows" in text,
    lambda text: "IE" in text or "Internet Explorer" in text,
    lambda text: ".NET Framework" in text,
    lambda text: "97" in text or "XP" in text,
)
_NAMED_HINTS = ("Online", "OneDrive", "365", "Teams", "Intune", "Azure", "Entra", "Edge",
                "Internet Explorer", "Silverlight", "Outlook")


def product_mentions(text: str) -> list[tuple[str, int]]:
    """Products named in ``text`` (product + version, or a versionless service), each with
    where it starts; inline code (paths, registry keys) is not read."""
    if "`" in text:
        text = _INLINE_CODE.sub(lambda m: " " * len(m.group(0)), text)
    found: list[tuple[str, int]] = []
    for pattern, hint in zip(_MENTIONS, _HINTS, strict=True):
        if not hint(text):
            continue
        for match in pattern.finditer(text):
            if _RANGE.match(text, match.end()):
                continue
            base = " ".join(f"{match.group('family')}{match.group('edition')}".split())
            version = " ".join(match.group("version").split())
            found.append((f"{base} {version}{' for Mac' if match.group('mac') else ''}",
                          match.start()))
            for more in re.split(r"\s*(?:,|/|\band\b|\bor\b)\s*", match.group("more")):
                if more.strip():
                    found.append((f"{base} {' '.join(more.split())}", match.start()))
    if any(word in text for word in _NAMED_HINTS):
        found += [(" ".join(m.group(0).split()), m.start()) for m in _NAMED.finditer(text)
                  if not _RANGE.match(text, m.end())]
    return sorted(found, key=lambda item: item[1])


@dataclass(frozen=True)
class Mention:
    """A product an article names, where (applies-to, product-line, title, heading, scenario:
    coexistence with / migration from..., or text), and how many times there."""

    product: str
    where: str
    times: int = 1


#: where a product is named, strongest first; the first three say what the article is about
PLACES = ("applies-to", "product-line", "title", "heading", "scenario", "text")
SUBJECT = frozenset(PLACES[:3])


def applies_to_line(article: Article) -> tuple[str, ...]:
    """Products of an "Applies to:" or "Original product version:" line among the first
    blocks (Microsoft's conventions), without an "Original KB number" tail."""
    for block in article.blocks[:8]:
        match = _APPLIES_LINE.match(block.text)
        if match:
            text = _KB_NUMBER.sub("", match.group(2))
            return tuple(p.strip(" _*") for p in re.split(r"[,;]", text) if p.strip(" _*"))
    return ()


def _needs(text: str, start: int, in_scenario: bool) -> bool:
    """The product at ``start`` is one the scenario needs: the sentence says so (coexistence
    with, migration from, running, using), or it is in a Symptoms/Issue section; unless the
    sentence is negative ("does not occur in Windows 2000")."""
    sentence = re.split(r"[.!?]\s", text[max(0, start - 300):start])[-1]
    if _NEGATION.search(sentence):
        return False
    return in_scenario or _SCENARIO.search(text[max(0, start - 60):start]) is not None


def _reads_as_heading(block: Block) -> bool:
    """A section heading (H2, H3), or a short line without end punctuation standing alone."""
    if block.kind == "heading":
        return block.level <= 3
    text = block.text.strip().strip("*_ ")
    return (block.kind == "text" and 0 < len(text.split()) <= HEADING_LINE_WORDS
            and not text.endswith((".", ":", "?", "!", ")", ",", ";"))
            and not _APPLIES_LINE.match(text) and not _KB_NUMBER.search(text)
            and not re.match(r"\d{5,}\b", text))  # "314053 TCP/IP ...": a reference


def article_products(article: Article) -> list[Mention]:
    """Every product the article names, once per place, strongest place first."""
    found: list[tuple[str, str]] = [(p, "applies-to") for p in article.products]
    found += [(p, "product-line") for p in applies_to_line(article)]
    found += [(p, "title") for p, _ in product_mentions(article.title)]
    for block in article.blocks:
        if block.kind == "code" or _APPLIES_LINE.match(block.text):
            continue  # an applies-to line is read above, as the product line
        if _reads_as_heading(block):
            found += [(p, "heading") for p, _ in product_mentions(block.text)]
            continue
        in_scenario = bool(block.section) and block.kind in ("text", "list_item") \
            and _SCENARIO_SECTION.match(block.section[0]) is not None
        for product, start in product_mentions(block.text):
            found.append((product, "scenario" if _needs(block.text, start, in_scenario)
                          else "text"))
    times: Counter[tuple[str, str]] = Counter()
    names: dict[tuple[str, str], str] = {}
    for product, where in found:
        key = (product.strip().lower(), where)
        if key[0] and not _QUALIFIER.match(product):
            times[key] += 1
            names.setdefault(key, product.strip())
    return [Mention(names[key], key[1], count) for key, count in
            sorted(times.items(), key=lambda item: PLACES.index(item[0][1]))]


def unknown_products(articles: Iterable[Article], table: tuple[LifecycleEntry, ...]
                     ) -> Counter[str]:
    """How many articles name each product the table does not know: the list owners extend
    the table from (``KB_LIFECYCLE_FILE``)."""
    counts: Counter[str] = Counter()
    for article in articles:
        counts.update({m.product for m in article_products(article)
                       if lookup(m.product, table) is None})
    return counts
