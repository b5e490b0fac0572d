"""Demand coverage: would kb have answered the tickets the service desk actually got?

Every ticket's subject and body go through :func:`assistant.service.ask` as the requester's
words (with the requester's groups when the ticket carries them; without an LLM, nothing
recorded as a gap), so "covered" is exactly what ``kb ask`` would do: the calibrated
confidence against the assistant's threshold, flagged articles held back. The tickets are
embedded first, in batches, and handed to retrieval through :class:`PrecomputedEmbedder`.

    summary, outcomes = run_coverage(assistant, tickets, date.today())
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np

from assistant.service import Assistant, ask
from assistant.types import Answer, Viewer
from core.store import catalog
from core.store.db import now_iso
from core.store.flag_states import ACTIVE, load_states
from tickets.clusters import DISTANCE, find_topics, silhouette
from tickets.store import Outcome, Ticket

#: a ticket's text is cut here before retrieval: MiniLM reads about 256 word pieces, and a
#: pasted log after that only adds noise to the lexical side
QUERY_CHARS = 1000
BATCH = 64
TOP_ARTICLES = 20
EXAMPLES = 5
NONE = "(none)"

Progress = Callable[[str, int, int], None]


class PrecomputedEmbedder:
    """Vectors embedded beforehand, by text; anything else goes to the wrapped embedder."""

    def __init__(self, inner: Any, vectors: dict[str, list[float]]) -> None:
        self.inner, self.vectors = inner, vectors
        self.name, self.dim = inner.name, len(next(iter(vectors.values()), [])) or 0

    def embed(self, texts: Sequence[str], progress: bool = False) -> list[list[float]]:
        missing = [t for t in texts if t not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.inner.embed(missing), strict=True))
        return [self.vectors[t] for t in texts]


def query_text(ticket: Ticket) -> str:
    return ticket.text[:QUERY_CHARS].strip()


@dataclass(frozen=True)
class Embedded:
    vectors: np.ndarray
    seconds: float

    @property
    def per_second(self) -> float:
        return round(len(self.vectors) / self.seconds, 1) if self.seconds else 0.0


def embed_texts(embedder: Any, texts: Sequence[str], batch: int = BATCH,
                progress: Progress | None = None) -> Embedded:
    """All texts embedded ``batch`` at a time (normalised rows), and how long it took."""
    if texts:
        embedder.embed([texts[0]])  # loads a lazy model: not part of the rate
    start = time.perf_counter()
    rows: list[list[float]] = []
    for i in range(0, len(texts), batch):
        rows.extend(embedder.embed(list(texts[i:i + batch])))
        if progress:
            progress("embedded", len(rows), len(texts))
    vectors = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)
    return Embedded(vectors / norms, time.perf_counter() - start)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def breakdown(tickets: Sequence[Ticket], covered: Sequence[bool],
              key: Callable[[Ticket], str | None]) -> list[dict[str, Any]]:
    """Tickets and the covered share per value of ``key``, most tickets first."""
    total: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    for ticket, ok in zip(tickets, covered, strict=True):
        k = key(ticket) or NONE
        total[k] += 1
        hit[k] += ok
    return [{"key": k, "tickets": n, "covered": hit[k], "share": _share(hit[k], n)}
            for k, n in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))]


def _active_flags(assistant: Assistant) -> dict[str, list[str]]:
    """Article id -> kinds of its flags still open or acknowledged (not dismissed, fixed)."""
    states = load_states(assistant.state)
    out: dict[str, list[str]] = defaultdict(list)
    for flag in catalog.load_flags(assistant.index.conn):
        state = states.get(flag.key)
        if (state is None or state.state in ACTIVE) and flag.kind not in out[flag.article_id]:
            out[flag.article_id].append(flag.kind)
    return out


def _example(ticket: Ticket) -> dict[str, Any]:
    return {"id": ticket.id, "subject": ticket.subject, "category": ticket.category,
            "groups": list(ticket.groups)}


def top_articles(assistant: Assistant, tickets: Sequence[Ticket], answers: Sequence[Answer],
                 limit: int = TOP_ARTICLES) -> list[dict[str, Any]]:
    """The articles that would answer the most tickets, with their stale state and flags."""
    by_article: dict[str, list[int]] = defaultdict(list)
    for i, answer in enumerate(answers):
        if answer.answered and answer.citations:
            by_article[answer.citations[0].article_id].append(i)
    flags = _active_flags(assistant)
    out = []
    for article_id, rows in sorted(by_article.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        cite = answers[rows[0]].citations[0]
        out.append({"article_id": article_id, "title": cite.title, "tickets": len(rows),
                    "share": _share(len(rows), len(tickets)), "stale": cite.stale,
                    "stale_reason": cite.stale_reason, "flags": flags.get(article_id, []),
                    "examples": [_example(tickets[i]) for i in rows[:EXAMPLES]]})
    return out[:limit]


def nearest_articles(assistant: Assistant, centroid: np.ndarray, as_of: date,
                     n: int = 3) -> list[dict[str, Any]]:
    """In-service articles whose best chunk is closest to a topic's centroid (cosine)."""
    index = assistant.index
    if not len(index.chunk_ids):
        return []
    mask = index.visible_articles(frozenset(), as_of, all_groups=True)
    scores = index.vectors @ centroid.astype(np.float32)
    best: dict[int, float] = {}
    for i in np.argsort(-scores)[:200]:
        row = int(index.chunk_article[i])
        if mask[row] and row not in best:
            best[row] = float(scores[i])
    return [{"article_id": index.articles[r].id, "title": index.articles[r].title,
             "similarity": round(s, 4)}
            for r, s in sorted(best.items(), key=lambda kv: -kv[1])[:n]]


def clusters(assistant: Assistant, tickets: Sequence[Ticket], vectors: np.ndarray,
             covered: Sequence[bool], as_of: date, distance: float = DISTANCE,
             ) -> tuple[list[dict[str, Any]], dict[int, int], dict[str, Any]]:
    """Topics of the uncovered tickets: (clusters, ticket index -> cluster number, quality)."""
    todo = [i for i, ok in enumerate(covered) if not ok]
    texts = [query_text(tickets[i]) for i in todo]
    background = [query_text(t) for t, ok in zip(tickets, covered, strict=True) if ok]
    topics = find_topics(vectors[todo], texts, background, distance) if todo else []
    out, member_of = [], {}
    for n, topic in enumerate(topics, start=1):
        members = [todo[i] for i in topic.members]
        member_of.update(dict.fromkeys(members, n))
        out.append({"id": n, "size": len(members), "share": _share(len(members), len(tickets)),
                    "terms": list(topic.terms), "cohesion": topic.cohesion,
                    "examples": [_example(tickets[i]) for i in members[:EXAMPLES]],
                    "categories": dict(Counter(tickets[i].category or NONE
                                               for i in members).most_common(3)),
                    "nearest": nearest_articles(assistant, np.asarray(topic.centroid), as_of)})
    quality = {"method": "agglomerative, average linkage, cosine", "distance": distance,
               "clustered": len(member_of), "unclustered": len(todo) - len(member_of),
               "silhouette": silhouette(vectors[todo], topics) if todo else None}
    return out, member_of, quality


def run_coverage(assistant: Assistant, tickets: Sequence[Ticket], as_of: date,
                 progress: Progress | None = None, distance: float = DISTANCE,
                 ) -> tuple[dict[str, Any], list[Outcome]]:
    """Run every ticket through ``ask``; the summary (shares, top articles, topics of the
    uncovered demand) and each ticket's outcome."""
    started = time.perf_counter()
    texts = [query_text(t) for t in tickets]
    embedded = embed_texts(assistant.embedder, texts, progress=progress)
    vectors = dict(zip(texts, embedded.vectors.tolist(), strict=True))
    quiet = replace(assistant, embedder=PrecomputedEmbedder(assistant.embedder, vectors),
                    llm=None)
    answers: list[Answer] = []
    for i, (ticket, text) in enumerate(zip(tickets, texts, strict=True), start=1):
        answers.append(ask(quiet, text, Viewer(frozenset(ticket.groups)), as_of, record=False))
        if progress and (i % 50 == 0 or i == len(tickets)):
            progress("answered", i, len(tickets))
    covered = [a.answered for a in answers]
    found, member_of, quality = clusters(assistant, tickets, embedded.vectors, covered, as_of,
                                         distance)
    summary = {
        "run_at": now_iso(), "as_of": as_of.isoformat(), "tickets": len(tickets),
        "covered": sum(covered), "share": _share(sum(covered), len(tickets)),
        "threshold": assistant.threshold, "index": assistant.index.fingerprint,
        "embedding": {"model": assistant.embedder.name, "seconds": round(embedded.seconds, 2),
                      "tickets_per_s": embedded.per_second},
        "by_category": breakdown(tickets, covered, lambda t: t.category),
        "by_group": breakdown(tickets, covered, lambda t: t.group),
        "by_month": sorted(breakdown(tickets, covered, lambda t: t.month),
                           key=lambda r: r["key"]),
        "top_articles": top_articles(assistant, tickets, answers),
        "clusters": found, "clustering": quality,
    }
    summary["seconds"] = round(time.perf_counter() - started, 2)
    outcomes = [Outcome(t.id, a.answered, a.confidence,
                        a.citations[0].article_id if a.answered and a.citations else None,
                        member_of.get(i)) for i, (t, a) in enumerate(zip(tickets, answers,
                                                                         strict=True))]
    return summary, outcomes


def since_filter(tickets: Iterable[Ticket], since: date | None) -> list[Ticket]:
    """Tickets opened on or after ``since`` (all when None; undated ones only then)."""
    if since is None:
        return list(tickets)
    return [t for t in tickets if t.opened_at and t.opened_at[:10] >= since.isoformat()]
