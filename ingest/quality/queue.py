"""The owners' review queue: flags with their state, ordered by what matters.

Order: severity, then how often the article is cited in answers, then negative feedback on
those answers, then age (oldest review first; no review date counts as oldest). Citations and
feedback come in through :class:`ArticleSignals` (the caller reads them from the answer log);
without them they are 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from core.store.flag_states import FlagState
from core.types import Article, Flag
from ingest.quality.flag import SEVERITY_RANK


@dataclass(frozen=True)
class ArticleSignals:
    """How an article is used: times cited in answers, answers marked unhelpful."""

    citations: int = 0
    negative_feedback: int = 0


NO_SIGNALS = ArticleSignals()


@dataclass(frozen=True)
class QueueItem:
    flag: Flag
    state: str
    owner: str | None
    title: str
    last_reviewed: date | None
    signals: ArticleSignals = NO_SIGNALS


def effective_state(row: FlagState | None, article_hash: str | None) -> str:
    """The state of a flag that is present now: fixed means it came back (open); dismissed
    holds only while the article is unchanged."""
    if row is None or row.state == "fixed":
        return "open"
    if row.state == "dismissed" and row.content_hash != article_hash:
        return "open"
    return row.state


def build_queue(flags: Iterable[Flag], states: Mapping[tuple[str, str, str], FlagState],
                articles: Mapping[str, Article],
                signals: Mapping[str, ArticleSignals] | None = None,
                include_fixed: bool = True) -> list[QueueItem]:
    """Current flags with their states, plus (optionally) flags fixed since; in queue order."""
    signals = signals or {}
    items = []
    present = set()
    for flag in flags:
        article = articles.get(flag.article_id)
        present.add(flag.key)
        state = effective_state(states.get(flag.key), article.content_hash if article else None)
        items.append(_item(flag, state, article, signals))
    if include_fixed:
        for key, row in states.items():
            if key not in present and row.state in ("fixed", "dismissed"):
                items.append(_item(row.flag, "fixed" if row.state == "fixed" else row.state,
                                   articles.get(key[0]), signals))
    return order_queue(items)


def _item(flag: Flag, state: str, article: Article | None,
          signals: Mapping[str, ArticleSignals]) -> QueueItem:
    return QueueItem(flag, state, article.owner if article else None,
                     article.title if article else flag.article_id,
                     article.last_reviewed if article else None,
                     signals.get(flag.article_id, NO_SIGNALS))


def queue_key(item: QueueItem) -> tuple:
    """Closed flags (fixed, dismissed) after the active ones; then the documented order."""
    return (item.state in ("fixed", "dismissed"), SEVERITY_RANK.get(item.flag.severity, 9),
            -item.signals.citations, -item.signals.negative_feedback,
            item.last_reviewed or date.min,
            item.flag.article_id, item.flag.kind, str(item.flag.evidence.get("key", "")))


def order_queue(items: Iterable[QueueItem]) -> list[QueueItem]:
    return sorted(items, key=queue_key)
