"""Every rule on one article, and on the whole KB: pure functions from articles to flags.

``article_flags`` needs only the article; ``kb_flags`` adds the rules that need every article
(broken links, duplicates, review dates shared in bulk). Retired articles get no flags: they are
out of service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

import numpy as np

from core.types import Article, Flag
from ingest.quality.dates import bulk_review_dates, date_flags
from ingest.quality.duplicates import duplicate_flags, find_duplicates
from ingest.quality.flag import SEVERITY_RANK
from ingest.quality.injection import injection_flags
from ingest.quality.links import LinkIndex, broken_link_flags
from ingest.quality.metadata_rules import metadata_flags
from ingest.quality.policy import QualityPolicy
from ingest.quality.structure import is_fragment, structure_flags


def article_flags(article: Article, policy: QualityPolicy, as_of: date,
                  bulk_dates: Mapping[date, int] | None = None) -> list[Flag]:
    """Flags of one article that do not depend on other articles (``bulk_dates``, the KB's
    dates of record, only changes what a stale flag says)."""
    if article.status == "retired":
        return []
    fragment = is_fragment(article)
    flags = date_flags(article, policy, as_of, bulk_dates)
    flags += structure_flags(article, policy)
    flags += metadata_flags(article, policy, fragment=fragment)
    flags += injection_flags(article)
    return flags


def kb_flags(articles: Sequence[Article], vectors: Mapping[str, np.ndarray],
             policy: QualityPolicy, as_of: date,
             anchors: Mapping[str, Iterable[str]] | None = None) -> list[Flag]:
    """Every flag of every article; ``vectors`` are article vectors for the duplicate rule,
    ``anchors`` the anchors each article's source declares (for the link rule)."""
    index = LinkIndex.build(articles, anchors)
    bulk = bulk_review_dates((a.last_reviewed for a in articles), policy)
    flags: list[Flag] = []
    live = [a for a in articles if a.status != "retired"]
    for article in live:
        flags += article_flags(article, policy, as_of, bulk)
        flags += broken_link_flags(article, index)
    candidates = [a for a in live if not is_fragment(a)]
    pairs = find_duplicates(candidates, vectors, policy)
    flags += duplicate_flags(pairs, {a.id: a.title for a in articles})
    return sort_flags(flags)


def sort_flags(flags: Sequence[Flag]) -> list[Flag]:
    return sorted(flags, key=lambda f: (SEVERITY_RANK.get(f.severity, 9), f.article_id, f.kind,
                                        str(f.evidence.get("key", ""))))
