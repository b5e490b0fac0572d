"""Read a passage as steps, and keep the steps for the question's own case.

A passage's text (see ``ingest/chunk.py``) is lines: numbered or bulleted steps (nested ones
indented), paragraphs, and fenced code blocks (```` ```lang ```` ... ```` ``` ````), which stay
one unit, verbatim. A *step* is a top-level line with everything nested under it and the code
blocks that follow it.

Many resolutions are a list of cases ("**Error 809** - ...", "**Error 691** - ...", or
sub-sections "Method 1: ...", "Windows 10"). A case is a step whose lead (its bold start, or
the words before a dash or colon) belongs to a family: it names a code or version, or starts
with the same word as another lead. When the question names one case (a distinctive word of
its lead: one that not every lead has) and not all, the answer keeps that case and the steps
that are no case (general steps), and lists the other cases as links.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from dataclasses import dataclass

from ingest.lexical import tokenize

FENCE = re.compile(r"^\s*```")
ITEM = re.compile(r"^(\d+[.)]|[-*+])\s+")
LEAD = re.compile(r"^(?:(?:\d+[.)]|[-*+])\s+)?(?:\*\*(?P<bold>[^*]{1,80}?)\*\*"
                  r"|(?P<plain>[^.:\u2014\u2013]{2,60}?)\s*(?:[\u2014\u2013]|:|\s-)(?:\s|$))")
MARKUP = re.compile(r"(?:[-*+]\s+|\d+[.)]\s+)?(?::::\s*image\b.*:::|!\[[^\]]*\]\([^)]*\))"
                    r"(?:\s*:::\s*image-end\s*:::)?")
#: an include the source did not resolve ("[!INCLUDE Important registry alert]")
MARKUP = re.compile(MARKUP.pattern + r"|\[!INCLUDE[^\]]*\]", re.I)
#: a sentence that only announces the steps below it
LEAD_IN = re.compile(r"(?:to (?:resolve|fix|work around|do|make) (?:this|the)(?: \w+){0,2},? )?"
                     r"(?:follow|use|complete|do) (?:these|the following)(?: \w+)? "
                     r"(?:steps?|methods?|procedures?)(?: below)?[.:]", re.I)
#: a pointer elsewhere ("For more information, see ...", "Still need help? ..."): the answer
#: links its source, and the link text alone is nothing to paste
POINTER = re.compile(r"(?:for more (?:information|info|details)|still need help|see also|"
                     r"learn more)\b.*", re.I)
ALERT = re.compile(r"\[\s*!(?:WARNING|IMPORTANT|CAUTION)\s*\]", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
#: the first word of labels that offer ways to the same end, of which one is enough
ALTERNATIVES = frozenset({"method", "option", "solution", "workaround", "alternative", "way",
                          "approach", "fix"})
STOP = frozenset({"the", "and", "for", "with", "from", "your", "you", "can", "not", "are",
                  "how", "what", "when", "this", "that", "use", "using", "only"})


def is_code(unit: str) -> bool:
    return bool(FENCE.match(unit))


def is_table(unit: str) -> bool:
    return unit.lstrip().startswith("|")


def elements(text: str) -> list[str]:
    """Non-empty lines of a passage, each fenced code block (dedented, closed if the passage
    cut it off) and each pipe table as one multi-line element."""
    out: list[str] = []
    fence: list[str] | None = None
    for raw in text.split("\n"):
        if fence is not None:
            fence.append(raw)
            if FENCE.match(raw):
                out.append(textwrap.dedent("\n".join(fence)))
                fence = None
        elif FENCE.match(raw):
            fence = [raw]
        elif is_table(raw) and out and is_table(out[-1].rsplit("\n", 1)[-1]) \
                and not is_code(out[-1]):
            out[-1] += "\n" + raw.strip()
        elif raw.strip():
            out.append(raw.strip() if is_table(raw) else raw.rstrip())
    if fence is not None:
        indent = fence[0][:len(fence[0]) - len(fence[0].lstrip())]
        out.append(textwrap.dedent("\n".join([*fence, indent + "```"])))
    return out


def steps(text: str) -> list[list[str]]:
    """Elements grouped into steps: a top-level line starts one; nested (indented) lines and
    code blocks join the step above them."""
    groups: list[list[str]] = []
    for element in elements(text):
        nested = element[:1].isspace() or (is_code(element) and groups
                                            and bool(ITEM.match(groups[-1][0])))
        if groups and nested:
            groups[-1].append(element)
        else:
            groups.append([element])
    return groups


def units(step: list[str]) -> list[str]:
    """What an answer quotes, one per line: list items and code whole, long paragraphs split
    into sentences."""
    out: list[str] = []
    for element in step:
        line = element.strip()
        if MARKUP.fullmatch(line) or LEAD_IN.fullmatch(line) or POINTER.fullmatch(line):
            continue  # images, "follow these steps:", "for more information, see ..."
        if is_code(element) or is_table(element):
            out.append(element)
        elif ALERT.match(line):  # a boxed warning: its first sentence says it
            out.append(_SENTENCE.split(line, maxsplit=1)[0])
        elif ITEM.match(line):  # a step whole; a nested one keeps its indent
            out.append(element.rstrip() if element[:1].isspace() else line)
        elif len(line) < 200:
            out.append(line)
        else:
            out.extend(s.strip() for s in _SENTENCE.split(line) if s.strip())
    return out


def lead(line: str) -> str | None:
    """The label a step starts with: its bold start, or the words before a dash or colon."""
    match = LEAD.match(line.strip())
    if not match:
        return None
    label = (match.group("bold") or match.group("plain") or "").strip(" -:")
    return label if label and len(label.split()) <= 8 else None


def _words(label: str) -> set[str]:
    return {t for t in tokenize(label) if t not in STOP and (len(t) >= 3 or t.isdigit())}


def case_labels(labels: list[str | None]) -> list[str | None]:
    """The labels that name a case: those with a digit, or whose first word another label
    starts with too (a family such as Error ..., Method ..., Windows ...)."""
    firsts = Counter(label.split()[0].lower() for label in dict.fromkeys(labels) if label)
    return [label if label and (any(c.isdigit() for c in label)
                                or firsts[label.split()[0].lower()] >= 2) else None
            for label in labels]


@dataclass(frozen=True)
class Focus:
    """Which of some cases the question names: ``keep[i]`` for each case (None: no case)."""

    keep: list[bool]
    named: bool


def focus(question: str, labels: list[str | None]) -> Focus:
    """Keep the cases the question names, and every non-case. When it names none: if the
    cases are alternatives ("Method 1", "Method 2", "Option A" ...: any one will do), keep the
    first; else (error codes, products, steps) keep everything. Every case named: everything."""
    cases = case_labels(labels)
    distinct = list(dict.fromkeys(c for c in cases if c))
    if len(distinct) < 2:
        return Focus([True] * len(labels), False)
    words = {c: _words(c) for c in distinct}
    seen = Counter(w for ws in words.values() for w in ws)
    asked = set(tokenize(question))
    named = {c for c in distinct if {w for w in words[c] if seen[w] < len(distinct)} & asked}
    if not named and {c.split()[0].lower() for c in distinct} <= ALTERNATIVES \
            and len({c.split()[0].lower() for c in distinct}) == 1:
        named = {distinct[0]}
    if not named or len(named) == len(distinct):
        return Focus([True] * len(labels), False)
    return Focus([c is None or c in named for c in cases], True)
