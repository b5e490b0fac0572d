"""Knowledge gaps: questions the KB could not answer or whose answers were not helpful.

Stored in the state database (it outlives index switches) with the asker's groups.
``list_gaps`` groups similar questions (token-set overlap) so owners see topics with counts and
examples, most asked first; a reader sees the gaps of askers sharing one of their groups and of
askers without groups (admins: all), by ``core.visibility.allowed``, the articles' group rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from core.store.db import Connection, now_iso
from core.visibility import Audience, allowed
from ingest.lexical import tokenize


@dataclass(frozen=True)
class GapGroup:
    topic: str
    count: int
    examples: tuple[str, ...]
    reasons: dict[str, int]
    last_asked: str


def record_gap(conn: Connection, question: str, reason: str = "not_covered",
               asked_by: str | None = None, confidence: float | None = None,
               groups: Iterable[str] | None = None) -> None:
    """Record a question with the asker's groups (``None``: those of user ``asked_by``, if
    kb knows that user; else none)."""
    if groups is None:
        from assistant.users import get_user  # not on ``kb ask``'s path: it passes groups

        user = get_user(conn, asked_by) if asked_by else None
        groups = user.groups if user else ()
    with conn:
        conn.execute("INSERT INTO gaps (question, reason, asked_by, confidence, asked_at, "
                     "groups) VALUES (?,?,?,?,?,?)",
                     (question.strip()[:2000], reason, asked_by, confidence, now_iso(),
                      json.dumps(sorted({g.lower() for g in groups}))))


def _similar(a: set[str], b: set[str]) -> bool:
    if not a or not b:
        return a == b
    return len(a & b) / min(len(a), len(b)) >= 0.6


#: every gap, whoever asked (admins, ``kb gaps`` at the shell)
EVERYONE = Audience(all_groups=True)


def list_gaps(conn: Connection, limit: int = 100,
              audience: Audience = EVERYONE) -> list[GapGroup]:
    """Group the questions ``audience`` may see by similarity; largest groups first."""
    rows = conn.execute("SELECT question, reason, asked_at, groups FROM gaps "
                        "ORDER BY asked_at DESC, id DESC LIMIT 5000").fetchall()
    groups: list[dict] = []
    for question, reason, asked_at, asker_groups in rows:
        if not allowed(audience, json.loads(asker_groups)):
            continue
        tokens = set(tokenize(question))
        for group in groups:
            if _similar(tokens, group["tokens"]):
                break
        else:
            group = {"tokens": tokens, "questions": [], "reasons": {}, "last": asked_at}
            groups.append(group)
        group["questions"].append(question)
        group["reasons"][reason] = group["reasons"].get(reason, 0) + 1
    groups.sort(key=lambda g: (-len(g["questions"]), g["last"]), reverse=False)
    out = []
    for g in groups[:limit]:
        distinct = list(dict.fromkeys(g["questions"]))
        out.append(GapGroup(topic=distinct[0], count=len(g["questions"]),
                            examples=tuple(distinct[:5]), reasons=g["reasons"],
                            last_asked=g["last"]))
    return out
