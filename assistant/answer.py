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

from assistant.retrieve import EXACT
from assistant.types import Answer, ArticleHit, Citation, Hit, Retrieval
from core.store import catalog
from ingest.lexical import tokenize
from ingest.tokens import count_tokens

NOT_COVERED = "The knowledge base doesn't cover this."
RESOLUTION = re.compile(r"\b(resolution|resolve|fix|solution|workaround|steps?|how to|"
                        r"procedure|instructions|method)", re.I)
SYMPTOMS = re.compile(r"\b(symptom|issue|problem|environment|applies|summary|introduction)",
                      re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
MAX_TOKENS = 420


def citation_url(hit: Hit, base_url: str | None) -> str:
    if base_url:
        return f"{base_url}#{hit.anchor}" if hit.anchor else base_url
    return f"/articles/{hit.article_id}" + (f"#{hit.anchor}" if hit.anchor else "")


def _cite(n: int, hit: Hit) -> Citation:
    return Citation(n=n, article_id=hit.article_id, title=hit.title,
                    section=hit.section_path or "Introduction", url=citation_url(hit, hit.url),
                    last_reviewed=hit.last_reviewed.isoformat() if hit.last_reviewed else None,
                    stale=hit.stale, snippet=hit.text[:300], chunk_id=hit.chunk_id,
                    stale_reason=hit.stale_reason, text=hit.text)


def split_units(text: str) -> list[str]:
    """Lines of a passage: steps and list items whole, paragraphs split into sentences."""
    units: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if re.match(r"^(\d+\.|-)\s", line) or len(line) < 200:
            units.append(line)
        else:
            units.extend(s.strip() for s in _SENTENCE.split(line) if s.strip())
    return units


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


def choose_passages(retrieval: Retrieval, conn: sqlite3.Connection) -> list[Hit]:
    """The passages an answer quotes: the fix first, in reading order, within a token budget.

    The top article's resolution-like section (or, without one, its best-matching chunk and
    what follows it), plus its best-matching chunk when that says more than the symptoms, plus
    the best chunk of a second article that scores almost as high.
    """
    top = retrieval.articles[0]
    best = top.hits[0]
    chunks = _article_chunks(conn, top)
    fix = [c for c in chunks if _is_resolution(c)]
    if not fix:
        fix = [c for c in chunks if c.position >= best.position]
    codes = {t for t in tokenize(retrieval.question) if EXACT.match(t)}
    pasted = bool(codes & set(tokenize(best.text))) and not any(
        codes & set(tokenize(c.text)) for c in fix)
    wanted = [best] if pasted or not SYMPTOMS.search(best.section_path) or not fix else []
    picked: list[Hit] = []
    budget = MAX_TOKENS
    for hit in wanted + [c for c in fix if c.chunk_id != best.chunk_id]:
        size = count_tokens(hit.text)
        if size > budget and picked:
            break
        picked.append(hit)
        budget -= size
    picked.sort(key=lambda h: h.position)
    if len(retrieval.articles) > 1:
        second = retrieval.articles[1]
        if second.score >= 0.92 * top.score and count_tokens(second.hits[0].text) <= budget:
            picked.append(second.hits[0])
    return picked


def stale_note(citations: list[Citation]) -> str | None:
    stale = [c for c in citations if c.stale]
    if not stale:
        return None
    marks = ", ".join(f"[{c.n}]" for c in stale)
    reason = stale[0].stale_reason or "it is past its review date"
    return f"Warning: {marks} cites an article that may be out of date ({reason}); verify first."


def abstain(retrieval: Retrieval) -> Answer:
    related = tuple({"article_id": a.article_id, "title": a.title,
                     "url": citation_url(a.hits[0], a.hits[0].url)}
                    for a in retrieval.articles[:3])
    return Answer(retrieval.question, False, NOT_COVERED, retrieval.confidence, (), related)


def extractive_answer(retrieval: Retrieval, conn: sqlite3.Connection, threshold: float,
                      ) -> Answer:
    """Answer from the passages, or abstain when confidence is under the threshold."""
    if not retrieval.articles or retrieval.confidence < threshold:
        return abstain(retrieval)
    passages = choose_passages(retrieval, conn)
    citations = [_cite(n, hit) for n, hit in enumerate(passages, start=1)]
    lines: list[str] = []
    for citation, hit in zip(citations, passages, strict=True):
        if hit.article_id != passages[0].article_id or citation.n == 1 or \
                hit.section != passages[citation.n - 2].section:
            lines.append(f"**{hit.title} - {citation.section}**")
        lines.extend(f"{unit} [{citation.n}]" for unit in split_units(hit.text))
    related = tuple({"article_id": a.article_id, "title": a.title,
                     "url": citation_url(a.hits[0], a.hits[0].url)}
                    for a in retrieval.articles[1:4])
    return Answer(retrieval.question, True, "\n".join(lines), retrieval.confidence,
                  tuple(citations), related, stale_note(citations))


def answer_json(answer: Answer) -> dict:
    """The ``kb ask --json`` / ``POST /api/ask`` shape."""
    return {"answered": answer.answered, "answer": answer.answer,
            "confidence": answer.confidence,
            "citations": [{"n": c.n, "article_id": c.article_id, "title": c.title,
                           "section": c.section, "url": c.url, "last_reviewed": c.last_reviewed,
                           "stale": c.stale, "stale_reason": c.stale_reason,
                           "snippet": c.snippet} for c in answer.citations],
            "related": list(answer.related), "note": answer.note}
