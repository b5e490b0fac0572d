"""Questions a KB asks of itself, for calibrating kb on it without labels.

From each sampled article: its title put in question form, its description without the
"This article describes ..." boilerplate, or the first sentence of its symptom section, in
the words a caller would use, no LLM. Each is answerable (its article is in the index); the
same question with its article held out of the index is an unanswerable near-miss (see
:mod:`assistant.self_calibration`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.types import Article

#: heading words of the section that describes the problem as a caller sees it
_SYMPTOM = re.compile(r"\b(symptoms?|issue|problem|error|question|summary)\b", re.I)
#: what a description opens with before it says what the problem is
_BOILERPLATE = re.compile(
    r"^(?:this|the)\s+(?:article|topic|guide|document|page)\s+"
    r"(?:\w+\s+){0,6}?(?:where|in which|when|that|how to|how|about|for|to)\s+", re.I)
_HOW_TO = re.compile(r"^how\s+to\s+", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
MAX_WORDS = 25
MIN_WORDS = 4


@dataclass(frozen=True)
class PseudoQuestion:
    article_id: str
    question: str
    #: where it came from: "title", "description" or "symptom"
    source: str


def _words(text: str, limit: int = MAX_WORDS) -> str:
    text = re.sub(r"[`*_#>\[\]]", "", text)
    return " ".join(text.split()[:limit]).rstrip(" .,:;")


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def from_title(title: str) -> str | None:
    """``How to reset X`` -> ``how do I reset X``; other titles as they are."""
    question = _HOW_TO.sub("how do I ", title.strip())
    question = _words(question)
    return question if len(question.split()) >= MIN_WORDS - 1 else None


def from_description(description: str) -> str | None:
    """The description's first sentence without its "This article describes ..." opening."""
    text = _BOILERPLATE.sub("", _first_sentence(description))
    text = re.sub(r"^(?:an?|the)\s+(?:issue|problem|error)\s+(?:where|in which|that)\s+",
                  "", text, flags=re.I)
    question = _words(text)
    return question if len(question.split()) >= MIN_WORDS else None


def from_symptom(article: Article) -> str | None:
    """The first sentence of the article's symptom (or issue, problem) section."""
    for block in article.blocks:
        if block.kind in ("text", "list_item") and block.section \
                and _SYMPTOM.search(block.section[0]):
            question = _words(_first_sentence(block.text))
            if len(question.split()) >= MIN_WORDS:
                return question
    return None


def candidates(article: Article) -> list[PseudoQuestion]:
    """Every pseudo-question this article yields (at most one per source)."""
    out = []
    description = article.raw_meta.get("description")
    made = (("symptom", from_symptom(article)),
            ("description", from_description(description)
             if isinstance(description, str) else None),
            ("title", from_title(article.title)))
    for source, question in made:
        if question and (source == "title" or question.lower() != article.title.lower()):
            out.append(PseudoQuestion(article.id, question, source))
    return out


def pseudo_questions(articles: Iterable[Article], limit: int = 300,
                     seed: int = 7) -> list[PseudoQuestion]:
    """One pseudo-question from each of up to ``limit`` published articles drawn at random
    (``seed``), the sources taken in turn so titles do not dominate."""
    pool = [a for a in articles if a.status == "published"]
    random.Random(seed).shuffle(pool)
    order = ("symptom", "description", "title")
    out: list[PseudoQuestion] = []
    for article in pool:
        if len(out) >= limit:
            break
        made = {q.source: q for q in candidates(article)}
        if not made:
            continue
        want = order[len(out) % len(order)]
        out.append(made.get(want) or next(iter(made.values())))
    return out
