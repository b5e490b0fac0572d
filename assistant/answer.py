"""Turn a :class:`Retrieval` into an :class:`Answer` with numbered citations, no LLM needed.

The extractive answerer quotes the best passages of the top article: its best-matching chunk,
then its resolution section (steps kept intact and in order, commands verbatim), and the best
chunk of a close second article. Every line ends with the marker ``[n]`` of the passage it
comes from, so every claim can be checked against its source. Below the confidence threshold
it abstains and lists related articles instead.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlsplit

from assistant.focus import case_labels, focus, is_code, lead, steps, units
from assistant.retrieve import EXACT
from assistant.types import Answer, ArticleHit, Citation, Hit, Retrieval
from core.store import catalog
from ingest.lexical import tokenize
from ingest.tokens import count_tokens

NOT_COVERED = "The knowledge base doesn't cover this."
RESOLUTION = re.compile(r"\b(resolution|resolve|fix|solution|workaround|steps?|how to|"
                        r"procedure|instructions|method)", re.I)
CAUSE = re.compile(r"\bcauses?\b", re.I)
SYMPTOMS = re.compile(r"\b(symptom|issue|problem|environment|applies|summary|introduction)",
                      re.I)
MAX_TOKENS = 420
#: related articles need a best passage at least this close to the question (cosine); on
#: the dev set's unanswerable questions the top candidates' median is 0.38, on answerable
#: questions' non-gold candidates 0.53 (KB_RELATED_MIN_SIMILARITY overrides it)
RELATED_FLOOR = 0.45


def citation_url(hit: Hit, base_url: str | None) -> str:
    """The article's own http(s) page when its metadata names one, else kb's article view;
    with the section's anchor. Any other scheme (``javascript:``, ``data:``) is never passed
    on, and id segments such as ``..`` are escaped so a browser cannot normalise them away."""
    anchor = f"#{quote(hit.anchor, safe='-_.')}" if hit.anchor else ""
    if base_url and urlsplit(base_url.strip()).scheme.lower() in ("http", "https") \
            and urlsplit(base_url.strip()).netloc:
        return base_url.strip() + anchor
    segments = [quote(s, safe="") if s not in (".", "..") else s.replace(".", "%2E")
                for s in hit.article_id.split("/")]
    return "/articles/" + "/".join(segments) + anchor


def _cite(n: int, hit: Hit) -> Citation:
    return Citation(n=n, article_id=hit.article_id, title=hit.title,
                    section=hit.section_path or "Introduction", url=citation_url(hit, hit.url),
                    last_reviewed=hit.last_reviewed.isoformat() if hit.last_reviewed else None,
                    stale=hit.stale, snippet=hit.text[:300], chunk_id=hit.chunk_id,
                    stale_reason=hit.stale_reason, text=hit.text)


def _article_chunks(conn: sqlite3.Connection, top: ArticleHit) -> list[Hit]:
    """All chunks of the top article in reading order, as hits carrying its facts."""
    t = top.hits[0]
    return [Hit(cid, t.article_id, t.title, section, anchor, text, position,
                0.0, url=t.url, last_reviewed=t.last_reviewed, stale=t.stale,
                stale_reason=t.stale_reason)
            for cid, (_, position, section, anchor, text)
            in catalog.chunks_of(conn, top.article_id)]


def _is_resolution(hit: Hit) -> bool:
    return bool(hit.section) and bool(RESOLUTION.search(hit.section[0]))


def codes_in(text: str) -> set[str]:
    """Error codes, KB numbers, versions: tokens with a digit that tokenize keeps whole."""
    return {t for t in tokenize(text) if EXACT.match(t)}


def choose_passages(retrieval: Retrieval, conn: sqlite3.Connection,
                    ) -> tuple[list[Hit], str | None]:
    """The passages an answer quotes: the fix first, in reading order, within a token budget.

    The top article's resolution-like section (or, without one, its best-matching chunk and
    what follows it), plus its best-matching chunk unless that only describes the problem
    (symptoms, cause), plus the best chunk of a second article that scores almost as high.
    Returns the passages and the id of a problem-describing passage quoted only for the
    question's pasted code (the answer keeps just its lines that name the code), if any.
    """
    top = retrieval.articles[0]
    best = top.hits[0]
    chunks = _article_chunks(conn, top)
    fix = [c for c in chunks if _is_resolution(c)]
    if not fix:
        fix = [c for c in chunks if c.position >= best.position]
    # the best passage as well, unless it is part of the fix already, or only describes the
    # problem (symptoms: the agent has them; cause: the fix says what to do about it)
    in_fix = best.chunk_id in {c.chunk_id for c in fix}
    explains = SYMPTOMS.search(best.section_path) or CAUSE.search(best.section_path)
    # ... but a pasted code the fix never names is answered with the lines that name it
    pasted = bool(codes_in(retrieval.question) & set(tokenize(best.text))) and not any(
        codes_in(retrieval.question) & set(tokenize(c.text)) for c in fix)
    wanted = [] if in_fix or (explains and not pasted) else [best]
    echoed = best.chunk_id if wanted and explains else None
    picked: list[Hit] = []
    budget = MAX_TOKENS
    for hit in wanted + fix:
        size = count_tokens(hit.text)
        if size > budget and picked:
            break
        picked.append(hit)
        budget -= size
    picked = sorted(picked or [best], key=lambda h: h.position)  # never nothing to quote
    if len(retrieval.articles) > 1:
        second = retrieval.articles[1]
        if second.score >= 0.92 * top.score and count_tokens(second.hits[0].text) <= budget:
            picked.append(second.hits[0])
    return picked, echoed


def stale_note(citations: list[Citation]) -> str | None:
    stale = [c for c in citations if c.stale]
    if not stale:
        return None
    marks = ", ".join(f"[{c.n}]" for c in stale)
    reason = stale[0].stale_reason or "it is past its review date"
    return f"Warning: {marks} cites an article that may be out of date ({reason}); verify first."


@dataclass(frozen=True)
class Escalation:
    """What a "not covered" answer tells the agent to do next, as the admin configured it:
    a line per category (case-insensitive), else the default, else nothing."""

    default: str | None = None
    by_category: dict[str, str] = field(default_factory=dict)

    def line(self, category: str | None) -> str | None:
        wanted = (category or "").lower()
        for name, text in self.by_category.items():
            if name.lower() == wanted:
                return text
        return self.default


def related(articles: tuple[ArticleHit, ...], floor: float) -> tuple[dict, ...]:
    """Articles worth a look, only above a relevance floor (best passage's cosine): no list
    is better than a list of noise."""
    return tuple({"article_id": a.article_id, "title": a.title,
                  "url": citation_url(a.hits[0], a.hits[0].url)}
                 for a in articles if a.features.get("dense", a.hits[0].dense) >= floor)


def abstain(retrieval: Retrieval, related_floor: float = RELATED_FLOOR) -> Answer:
    return Answer(retrieval.question, False, NOT_COVERED, retrieval.confidence, (),
                  related(retrieval.articles[:3], related_floor))


def _citations(passages: list[Hit]) -> tuple[list[Citation], dict[str, int]]:
    """One citation per cited section (its passages' texts joined); chunk id -> its ``n``."""
    by_section: dict[tuple[str, tuple[str, ...]], list[Hit]] = {}
    for hit in passages:
        by_section.setdefault((hit.article_id, hit.section), []).append(hit)
    citations, number = [], {}
    for n, hits in enumerate(by_section.values(), start=1):
        cite = _cite(n, hits[0])
        if len(hits) > 1:
            text = "\n".join(h.text for h in sorted(hits, key=lambda h: h.position))
            cite = replace(cite, text=text, snippet=text[:300])
        citations.append(cite)
        number.update({h.chunk_id: n for h in hits})
    return citations, number


@dataclass(frozen=True)
class _Item:
    hit: Hit
    step: list[str]
    label: str | None


def _items(passages: list[Hit], echoed: str | None = None,
           codes: frozenset[str] | set[str] = frozenset()) -> list[_Item]:
    """Every step of every passage, labelled by its case: the sub-section when the top
    article's passages span several sub-sections of one section, else the step's lead. Of
    the ``echoed`` passage, only the steps naming one of ``codes`` (the question's pasted
    error code): what it means, not the symptoms the agent already has."""
    top = passages[0].article_id
    subs = {h.section for h in passages if h.article_id == top and len(h.section) >= 2}
    by_section = len(subs) >= 2 and len({s[:-1] for s in subs}) == 1
    out = []
    for hit in passages:
        for step in steps(hit.text):
            if hit.chunk_id == echoed and not codes & set(tokenize("\n".join(step))):
                continue
            label = (hit.section[-1] if by_section and hit.section in subs
                     else lead(step[0]) if not is_code(step[0]) else None)
            out.append(_Item(hit, step, label))
    return out


def _focused(question: str, items: list[_Item]) -> tuple[list[_Item], list[_Item]]:
    """(items to quote, in order; items of the other cases)."""
    chosen = focus(question, [i.label for i in items])
    if not chosen.named:
        return items, []
    kept = [i for i, keep in zip(items, chosen.keep, strict=True) if keep]
    cases = set(case_labels([i.label for i in items]))
    first = [i for i in kept if i.label in cases and i.label]
    return first + [i for i in kept if i not in first], \
        [i for i, keep in zip(items, chosen.keep, strict=True) if not keep]


def _lines(items: list[_Item], number: dict[str, int]) -> list[str]:
    lines: list[str] = []
    shown: tuple[str, tuple[str, ...]] | None = None
    for item in items:
        hit, n = item.hit, number[item.hit.chunk_id]
        if (hit.article_id, hit.section) != shown:
            lines.append(f"**{hit.title} - {hit.section_path or 'Introduction'}**")
            shown = (hit.article_id, hit.section)
        lines.extend(f"{unit} [{n}]" for unit in units(item.step))
    return lines


def _other_cases(others: list[_Item]) -> tuple[dict, ...]:
    seen: dict[str, dict] = {}
    for item in others:
        if item.label and item.label not in seen:
            seen[item.label] = {"title": item.label,
                                "url": citation_url(item.hit, item.hit.url)}
    return tuple(seen.values())


def extractive_answer(retrieval: Retrieval, conn: sqlite3.Connection, threshold: float,
                      related_floor: float = RELATED_FLOOR) -> Answer:
    """Answer from the passages, or abstain when confidence is under the threshold."""
    if not retrieval.articles or retrieval.confidence < threshold:
        return abstain(retrieval, related_floor)
    passages, echoed = choose_passages(retrieval, conn)
    quoted, others = _focused(retrieval.question,
                              _items(passages, echoed, codes_in(retrieval.question)))
    # numbered in the order the answer quotes them; a passage focus left out is not cited
    citations, number = _citations(list({i.hit.chunk_id: i.hit for i in quoted}.values()))
    return Answer(retrieval.question, True, "\n".join(_lines(quoted, number)),
                  retrieval.confidence, tuple(citations),
                  related(retrieval.articles[1:4], related_floor), stale_note(citations),
                  other_cases=_other_cases(others))


def answer_json(answer: Answer) -> dict:
    """The ``kb ask --json`` / ``POST /api/ask`` shape."""
    return {"answered": answer.answered, "answer": answer.answer,
            "confidence": answer.confidence,
            "citations": [{"n": c.n, "article_id": c.article_id, "title": c.title,
                           "section": c.section, "url": c.url, "last_reviewed": c.last_reviewed,
                           "stale": c.stale, "stale_reason": c.stale_reason,
                           "snippet": c.snippet, "warning": c.warning}
                          for c in answer.citations],
            "related": list(answer.related), "note": answer.note,
            "escalation": answer.escalation, "other_cases": list(answer.other_cases)}
