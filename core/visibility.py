"""Who may see which article: the one rule, used by retrieval's mask (answers and their
related lists), the article page, the review queue and the dashboard.

An article is *in service* when it is published, not past its ``valid_until`` (the day
itself still counts) and its access metadata could be read. A restricted article (one that
names groups) exists only for readers in one of its groups. Answers come only from in-service
articles the asker's groups allow, for every role; opening an article is wider for owners
(drafts, retired and expired articles, and articles whose access is unclear, to fix them) and
for admins (every article).

Access fails closed: an article whose ``groups`` or ``status`` could not be read (a bad value,
or a front-matter key that looks like a typo of one of them, such as ``group: [finance]`` or
``status: drfat``) is out of service until fixed. The loader records such problems in
``meta_problems`` as ``"<field>: what is wrong"``; :func:`access_problems` picks them out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

#: the metadata that decides who may see an article
ACCESS_FIELDS = ("groups", "status")


class Visible(Protocol):
    """What the rule reads of an article (``Article`` and ``ArticleFacts`` both have it)."""

    @property
    def groups(self) -> tuple[str, ...] | frozenset[str]: ...
    @property
    def status(self) -> str: ...
    @property
    def valid_until(self) -> date | None: ...
    @property
    def meta_problems(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Audience:
    """Who is looking. ``all_groups``: restricted articles too; ``out_of_service``: drafts,
    retired and expired articles, and those whose access is unclear, too."""

    groups: frozenset[str] = frozenset()
    all_groups: bool = False
    out_of_service: bool = False


def access_problems(problems: Iterable[str]) -> tuple[str, ...]:
    """The metadata problems that leave an article's access unclear (groups or status)."""
    return tuple(p for p in problems if p.split(":", 1)[0].strip() in ACCESS_FIELDS)


def in_service(article: Visible, as_of: date) -> bool:
    return (article.status == "published" and not access_problems(article.meta_problems)
            and (article.valid_until is None or article.valid_until >= as_of))


def allowed(audience: Audience, groups: Iterable[str]) -> bool:
    """Does the audience pass a restriction to ``groups`` (none: everyone), case-insensitive?
    Articles' groups, and the asker's groups of a knowledge gap, are read the same way."""
    wanted = {g.lower() for g in groups}
    return audience.all_groups or not wanted or bool(
        wanted & {g.lower() for g in audience.groups})


def visible(audience: Audience, article: Visible, as_of: date) -> bool:
    """May this audience see the article as of that day?"""
    if not allowed(audience, article.groups):
        return False
    return audience.out_of_service or in_service(article, as_of)
