"""Who may see which article: the one rule, used by retrieval's mask (answers and their
related lists), the article page, the review queue and the dashboard.

An article is *in service* when it is published and not past its ``valid_until`` (the day
itself still counts). A restricted article (one that names groups) exists only for readers in
one of its groups. Answers come only from in-service articles the asker's groups allow, for
every role; opening an article is wider for owners (drafts, retired and expired articles too)
and for admins (every article).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol


class Visible(Protocol):
    """What the rule reads of an article (``Article`` and ``ArticleFacts`` both have it)."""

    @property
    def groups(self) -> tuple[str, ...] | frozenset[str]: ...
    @property
    def status(self) -> str: ...
    @property
    def valid_until(self) -> date | None: ...


@dataclass(frozen=True)
class Audience:
    """Who is looking. ``all_groups``: restricted articles too; ``out_of_service``: drafts,
    retired and expired articles too."""

    groups: frozenset[str] = frozenset()
    all_groups: bool = False
    out_of_service: bool = False


def in_service(article: Visible, as_of: date) -> bool:
    return article.status == "published" and (article.valid_until is None
                                               or article.valid_until >= as_of)


def visible(audience: Audience, article: Visible, as_of: date) -> bool:
    """May this audience see the article as of that day?"""
    if not audience.all_groups and article.groups:
        mine = {g.lower() for g in audience.groups}
        if not {g.lower() for g in article.groups} & mine:
            return False
    return audience.out_of_service or in_service(article, as_of)
