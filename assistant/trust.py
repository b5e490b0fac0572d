"""Trust signals on citations: an open high-severity flag on a cited article, in plain words.

Agents see on the citation itself that an article is under review ("Reported outdated by an
agent on 2026-11-20, under review"), read from the flags' review states in the state DB.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from assistant.types import Answer
from core.store.db import Connection
from core.store.flag_states import ACTIVE, FlagState, load_states

WORDS = {"suspicious-instructions": "Flagged for text that addresses an AI or is hidden from "
                                    "readers, under review",
         "expired": "Past its valid-until date, under review"}


def _words(state: FlagState) -> str:
    flag = state.flag
    if flag.kind == "reported":
        day = str(flag.evidence.get("last_reported") or state.changed_at)[:10]
        return f"Reported {flag.evidence.get('key', 'wrong')} by an agent on {day}, under review"
    return WORDS.get(flag.kind, f"{flag.reason[:1].upper()}{flag.reason[1:]} (under review)")


def warnings(state: Connection, article_ids: Iterable[str]) -> dict[str, str]:
    """Article id -> its open high-severity flags in plain words (articles with none left out)."""
    out = {}
    for article_id in dict.fromkeys(article_ids):
        open_high = [s for s in load_states(state, article_id).values()
                     if s.state in ACTIVE and s.flag.severity == "high"]
        if open_high:
            out[article_id] = "; ".join(sorted({_words(s) for s in open_high}))
    return out


def with_warnings(answer: Answer, state: Connection) -> Answer:
    """The answer with each citation's ``warning`` set from its article's open high flags."""
    found = warnings(state, (c.article_id for c in answer.citations))
    if not found:
        return answer
    return replace(answer, citations=tuple(replace(c, warning=found.get(c.article_id))
                                           for c in answer.citations))


def under_review(state: Connection, article_ids: Iterable[str]) -> set[str]:
    """Articles with an open ``suspicious-instructions`` flag (text addressing an AI, or hidden
    from readers): never quoted, never handed to a model, until an owner clears the flag."""
    return {a for a in dict.fromkeys(article_ids)
            if any(s.state in ACTIVE and s.flag.kind == "suspicious-instructions"
                   for s in load_states(state, a).values())}
