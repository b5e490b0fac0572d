"""The ``unstructured`` rules: is this a readable article, shaped the way agents need it?

Each problem is its own flag (its ``key``), so an owner can dismiss one and fix another:
``fragment``, ``no-sections``, ``wall-of-text``, ``missing-sections``, ``pdf-noise``,
``too-short``, ``too-long``. Which sections an article needs depends on its type
(:func:`detect_type`): a security bulletin or advisory, an FAQ, or a troubleshooting article.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import PurePosixPath

from core.types import Article, Flag
from ingest.metadata import BUILTIN_ALIASES
from ingest.quality.flag import make_flag
from ingest.quality.lifecycle import applies_to_line
from ingest.quality.policy import SECTION_SYNONYMS, QualityPolicy, section_alternatives

#: headings that mark an article as troubleshooting when its metadata does not say
TROUBLESHOOTING_MARKERS = ("symptom", "issue", "problem", "cause", "error message")
#: metadata keys that may name the article type. Not ``ms.topic``: Microsoft Learn sets it to
#: "troubleshooting" on FAQs, how-tos and reference lists alike (99% of the ms-support corpus).
TYPE_KEYS = ("type", "article_type", "content_type")
#: type names in metadata that mean one of kb's own types
TYPE_ALIASES = {"faq": "faq", "faqs": "faq", "frequently asked questions": "faq", "q&a": "faq",
                "qna": "faq", "bulletin": "bulletin", "security bulletin": "bulletin",
                "security-bulletin": "bulletin", "advisory": "bulletin",
                "security advisory": "bulletin", "security-advisory": "bulletin",
                "vulnerability": "bulletin"}
#: headings only a security bulletin or advisory has
BULLETIN_HEADINGS = ("vulnerability detail", "vulnerability information", "vulnerable version",
                     "affected product", "affected software", "affected version",
                     "affected component", "mitigating factor", "executive summary",
                     "severity rating", "cvss", "acknowledgment", "acknowledgement",
                     "exploitability", "security bulletin", "security advisory",
                     "advisory detail", "cve")
_CVE = re.compile(r"\bCVE-\d{4}-\d{4,}\b", re.I)
_BULLETIN_TITLE = re.compile(r"\bsecurity\s+(bulletin|advisory)\b|\bCVE-\d{4}-\d{4,}\b"
                             r"|\bvulnerabilit(y|ies)\b|\badvisory\b|\bMS\d\d-\d{3}\b", re.I)
_FAQ_TITLE = re.compile(r"\bFAQs?\b|frequently\s+asked\s+questions|\bQ\s*&\s*A\b"
                        r"|questions\s+and\s+answers", re.I)
_Q_MARK = re.compile(r"^[\s*_]*(Q|[Qq]uestion|QUESTION)\s*\d*[\s*_]*[:.)\-]")
FRAGMENT_MAX_WORDS = 300
TITLE_KEYS = tuple(BUILTIN_ALIASES["title"])
INTRO_WORDS = 15
#: a paragraph this short that ends with "?" is a question line (an FAQ's question)
QUESTION_WORDS = 30

_PAGE_LINE = re.compile(r"^\s*(page\s+\d+(\s+of\s+\d+)?|\d{1,3}\s*/\s*\d{1,3}|-\s*\d{1,3}\s*-)\s*$",
                        re.I)
_HYPHEN_BREAK = re.compile(r"[a-z]{2,}-\n[a-z]{2,}")
_LIGATURES = re.compile("[\ufb00-\ufb06\u00ad\ufffd]")
_CAPS_HEAD = re.compile(r"^((?:[A-Z][A-Z&/-]*\s+){1,6}?[A-Z][A-Z&/-]+)(?:\s*:)?\s+"
                        r"(?=[A-Z0-9][a-z0-9.)])")
_WORD_HEAD = re.compile(r"^([A-Z][a-z]+(?: [a-z]+){0,2}):?\s+(?=[A-Z0-9])")


def words(text: str) -> int:
    return len(text.split())


def normalise_heading(text: str) -> str:
    """Lower case, punctuation dropped, each word singular: ``"Symptoms:"`` -> ``"symptom"``."""
    out = []
    for word in re.sub(r"[^\w\s]", " ", text.lower()).split():
        if len(word) > 3 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return " ".join(out)


_SECTION_WORDS = frozenset(
    normalise_heading(word) for word in (
        *(w for group in SECTION_SYNONYMS.values() for w in group),
        "environment", "overview", "note", "tip", "background", "applies to", "prerequisite"))


def heading_matches(heading: str, alternatives: tuple[str, ...], anywhere: bool = False
                    ) -> bool:
    """The heading is, or starts with, one of the alternatives (compared normalised); with
    ``anywhere``, alternatives of two words or more may also appear inside it."""
    norm = f" {normalise_heading(heading)} "
    for alt in alternatives:
        want = normalise_heading(alt)
        if norm.startswith(f" {want} ") or (anywhere and " " in want and f" {want} " in norm):
            return True
    return False


def has_intro(article: Article) -> bool:
    """Text of 15 words or more before the first heading (it describes the issue)."""
    before = []
    for block in article.blocks:
        if block.kind == "heading":
            break
        before.append(block.text)
    return words(" ".join(before)) >= INTRO_WORDS


def _inline_heading(text: str) -> str | None:
    """Plain text whose heading line was merged into its paragraph ("Resolution 1. Open ...",
    "FORGOTTEN PIN The service desk ..."): the heading, or None."""
    caps = _CAPS_HEAD.match(text)
    if caps and len(caps.group(1)) >= 5:
        return caps.group(1)
    first = _WORD_HEAD.match(text)
    if first and normalise_heading(first.group(1)) in _SECTION_WORDS:
        return first.group(1)
    return None


def section_titles(article: Article) -> list[tuple[str, int]]:
    """``(heading, level)`` of the article's sections; for plain text and PDF also the
    headings that text extraction merged into the paragraph below them (as level 2)."""
    found = [(h.text, h.level) for h in article.headings]
    if article.fmt in ("txt", "pdf"):
        found += [(head, 2) for b in article.blocks if b.kind == "text"
                  for head in [_inline_heading(b.text)] if head]
    return found


def has_own_title(article: Article) -> bool:
    """False when the loader fell back to the file name: no title metadata and no H1."""
    given = {str(k).lower() for k, v in article.raw_meta.items() if v} & set(TITLE_KEYS)
    return bool(given) or article.title != PurePosixPath(article.path).stem.replace("-", " ")


def is_fragment(article: Article) -> bool:
    """A snippet (an include, a note) rather than an article: no title of its own, at most one
    heading, short."""
    return (not has_own_title(article) and len(article.headings) <= 1
            and words(article.text) <= FRAGMENT_MAX_WORDS)


def questions(article: Article) -> tuple[list[str], list[str]]:
    """``(question headings, Q:/QUESTION lines)``: headings (H2-H4) that end with "?", and
    paragraphs that start with a question marker."""
    heads = [h.text for h in article.headings if h.level <= 4 and h.text.rstrip().endswith("?")]
    marked = [b.text for b in article.blocks
              if b.kind in ("text", "list_item") and _Q_MARK.match(b.text)]
    return heads, marked


def _bulletin_signals(article: Article, troubleshooting: bool) -> list[str]:
    """Why the article is a security bulletin or advisory (empty: it is not): two bulletin
    headings; one with a CVE id or a bulletin title; or such a title on an article that has
    no troubleshooting heading ("Cannot connect after installing Security Bulletin MS16-065"
    is a troubleshooting article)."""
    heads = [h for h, level in section_titles(article) if level <= 3
             and heading_matches(h, BULLETIN_HEADINGS, anywhere=True)]
    cves = sorted({m.group(0).upper() for m in _CVE.finditer(article.text)})
    title = _BULLETIN_TITLE.search(article.title)
    if not (len(heads) >= 2 or (heads and (cves or title)) or (title and not troubleshooting)):
        return []
    signals = [f"title: {title.group(0)}"] if title else []
    signals += [f"heading: {h}" for h in heads[:4]]
    if cves:
        signals.append(f"CVE ids: {', '.join(cves[:5])}")
    return signals


def _qa_share(article: Article) -> float:
    """The share of the article's words in the sections that hold Q:/QUESTION markers: an
    FAQ is mostly questions and answers, not a guide with an FAQ section."""
    marked = {b.section for b in article.blocks
              if b.kind in ("text", "list_item") and _Q_MARK.match(b.text)}
    total = words(article.text)
    inside = sum(words(b.text) for b in article.blocks if b.section in marked)
    return inside / total if total else 0.0


def _faq_signals(article: Article) -> list[str]:
    title = _FAQ_TITLE.search(article.title)
    heads, marked = questions(article)
    all_heads = [h for h in article.headings if h.level <= 4]
    signals = [f"title: {title.group(0)}"] if title else []
    share = _qa_share(article)
    if len(marked) >= 2 and share >= 0.5:
        signals.append(f"{len(marked)} question markers, {share:.0%} of the text "
                       f"({marked[0][:60]})")
    if len(heads) >= 3 and 2 * len(heads) >= len(all_heads):
        signals.append(f"{len(heads)} of {len(all_heads)} headings are questions "
                       f"({heads[0][:60]})")
    return signals


def detect_type(article: Article, policy: QualityPolicy) -> tuple[str | None, list[str]]:
    """The article's type and why: the type its metadata names (kb's ``faq``/``bulletin``
    under any alias, or a type the policy has rules for); else a security ``bulletin``
    (advisory) by its title, headings and CVE ids; else an ``faq`` by its title or its
    question/answer layout; else ``troubleshooting`` when a top-level heading marks it so
    (Symptoms, Issue, Problem, Cause, Error message)."""
    lowered = {str(k).lower(): v for k, v in article.raw_meta.items()}
    for key in TYPE_KEYS:
        value = str(lowered.get(key) or "").strip().lower()
        if value in policy.required_sections or value in TYPE_ALIASES:
            return TYPE_ALIASES.get(value, value), [f"metadata {key}: {value}"]
    marked = [h for h, level in section_titles(article) if level <= 2
              and heading_matches(h, TROUBLESHOOTING_MARKERS)]
    bulletin = _bulletin_signals(article, bool(marked))
    if bulletin:
        return "bulletin", bulletin
    faq = _faq_signals(article)
    if faq:
        return "faq", faq
    if "troubleshooting" in policy.required_sections and marked:
        return "troubleshooting", [f"heading: {marked[0]}"]
    return None, []


def article_type(article: Article, policy: QualityPolicy) -> str | None:
    return detect_type(article, policy)[0]


def _met_by_content(required: str, article: Article) -> bool:
    """Sections an article has without a heading for them: an introduction is the issue, a
    question layout the questions, an applies-to list or line the affected products."""
    if required == "issue":
        return has_intro(article)
    if required == "question":
        heads, marked = questions(article)
        lines = [b for b in article.blocks if b.kind in ("text", "list_item")
                 and b.text.rstrip().endswith("?") and words(b.text) <= QUESTION_WORDS]
        return bool(heads or marked or len(lines) >= 2)
    if required == "affected":
        return bool(article.products or applies_to_line(article))
    return False


def missing_sections_flag(article: Article, policy: QualityPolicy) -> Flag | None:
    kind, signals = detect_type(article, policy)
    if kind is None or kind not in policy.required_sections:
        return None
    headings = [h for h, _ in section_titles(article)]
    missing = [req for req in policy.required_sections[kind]
               if not _met_by_content(req, article)
               and not any(heading_matches(h, section_alternatives(req), anywhere=True)
                           for h in headings)]
    if not missing:
        return None
    return make_flag(article, "unstructured", "medium",
                     f"{kind} article without {' or '.join(missing)} section",
                     "missing-sections", article_type=kind, type_signals=signals,
                     missing=missing, accepted={m: list(section_alternatives(m)) for m in missing},
                     headings=headings[:20])


def sections_flag(article: Article) -> Flag | None:
    levels = [level for _, level in section_titles(article)]
    if any(level <= 2 for level in levels):
        return None
    reason = ("no section headings: the article is one block of text" if not levels
              else "no top-level (H2) section headings, only deeper ones")
    return make_flag(article, "unstructured", "low", reason, "no-sections",
                     headings=[h.text for h in article.headings][:10],
                     words=words(article.text))


def wall_of_text_flag(article: Article, policy: QualityPolicy) -> Flag | None:
    long_ones = sorted((b for b in article.blocks
                        if b.kind == "text" and words(b.text) > policy.wall_of_text_words),
                       key=lambda b: -words(b.text))
    if not long_ones:
        return None
    worst = long_ones[0]
    where = " > ".join(worst.section) or "the top of the article"
    return make_flag(article, "unstructured", "low",
                     f"wall of text: a {words(worst.text)}-word paragraph in {where} "
                     f"(limit {policy.wall_of_text_words})", "wall-of-text",
                     paragraphs=[{"section": " > ".join(b.section), "words": words(b.text),
                                  "starts": b.text[:80]} for b in long_ones[:3]],
                     limit_words=policy.wall_of_text_words)


def pdf_noise_flag(article: Article) -> Flag | None:
    """Leftovers of PDF conversion: page numbers, running headers, broken words and lines."""
    signals: dict[str, list[str]] = {}
    texts = [b.text for b in article.blocks]
    pages = [t for t in texts if _PAGE_LINE.match(t)]
    if len(pages) >= 2:
        signals["page numbers"] = pages[:3]
    broken = [m.group(0).replace("\n", "\\n") for t in texts for m in _HYPHEN_BREAK.finditer(t)]
    if len(broken) >= 2:
        signals["words broken across lines"] = broken[:3]
    junk = _LIGATURES.findall(article.text)
    if len(junk) >= 3:
        signals["ligature or replacement characters"] = sorted(set(junk))[:3]
    if article.fmt == "pdf":
        repeated = [t for t, n in Counter(t for t in texts if words(t) <= 8).items()
                    if n >= 3 and not _PAGE_LINE.match(t)]
        if repeated:
            signals["repeated header or footer lines"] = repeated[:3]
        cut = [h.text for h in article.headings
               if h.text[:1].islower() or h.text.rstrip()[-1:] in ",;:."]
        if len(cut) >= 2:
            signals["sentence fragments read as headings"] = cut[:3]
    if not signals:
        return None
    return make_flag(article, "unstructured", "low",
                     "converted-PDF noise: " + ", ".join(signals), "pdf-noise", signals=signals)


def size_flag(article: Article, policy: QualityPolicy) -> Flag | None:
    count = words(article.text)
    if count < policy.min_article_words:
        return make_flag(article, "unstructured", "low",
                         f"too short to be useful: {count} words (minimum "
                         f"{policy.min_article_words})", "too-short", words=count)
    if count > policy.max_article_words:
        return make_flag(article, "unstructured", "low",
                         f"too long to be one article: {count} words (maximum "
                         f"{policy.max_article_words}); split it", "too-long", words=count)
    return None


def structure_flags(article: Article, policy: QualityPolicy) -> list[Flag]:
    if is_fragment(article):
        return [make_flag(article, "unstructured", "medium",
                          f"a fragment, not an article: no title, no sections, "
                          f"{words(article.text)} words", "fragment", words=words(article.text))]
    found = (sections_flag(article), wall_of_text_flag(article, policy),
             missing_sections_flag(article, policy), pdf_noise_flag(article),
             size_flag(article, policy))
    return [f for f in found if f is not None]
