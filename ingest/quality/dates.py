"""Rules that depend on the reference date: stale, expiring, expired, obsolete and
partly-obsolete.

Every rule takes ``as_of`` (kb's "now") so that a report can be reproduced, and a corpus can be
judged as of its snapshot. Dates in the evidence are ISO strings.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.types import Article, Flag
from ingest.quality.flag import make_flag
from ingest.quality.lifecycle import (
    SUBJECT,
    LifecycleEntry,
    Mention,
    article_products,
    lookup,
)
from ingest.quality.policy import QualityPolicy
from ingest.quality.structure import is_fragment

#: with no applies-to, product line or product in the title, the text must name retired
#: products this many times (and nothing else) for the article to be obsolete
TEXT_ONLY_MENTIONS = 2


def _bad_review_date(article: Article) -> str | None:
    for problem in article.meta_problems:
        if problem.startswith("last_reviewed:"):
            return problem.split(":", 1)[1].strip()
    return None


def stale_info(article: Article, as_of: date, policy: QualityPolicy) -> tuple[bool, str | None]:
    """``(is_stale, reason)``: past the review policy, or no (readable) review date; the
    reason in plain words for agents ("last reviewed 2 years ago; the policy is yearly")."""
    flag = stale_flag(article, policy, as_of)
    if flag is None:
        return False, None
    if flag.evidence.get("age_days") is None:
        return True, flag.reason
    return True, (f"last reviewed {how_long(flag.evidence['age_days'])} ago; the policy is "
                  f"{how_often(flag.evidence['limit_days'])}")


def how_long(days: int) -> str:
    """``400`` -> "over a year", ``839`` -> "2 years", ``45`` -> "6 weeks"."""
    if days >= 730:
        return f"{days // 365} years"
    if days >= 365:
        return "over a year"
    if days >= 60:
        return f"{days // 30} months"
    if days >= 14:
        return f"{days // 7} weeks"
    return f"{days} day{'s' if days != 1 else ''}"


def how_often(limit_days: int) -> str:
    """The review policy as people say it: ``365`` -> "yearly"."""
    named = {365: "yearly", 366: "yearly", 182: "every six months", 183: "every six months",
             180: "every six months", 90: "quarterly", 91: "quarterly", 30: "monthly",
             31: "monthly", 730: "every two years", 7: "weekly"}
    return named.get(limit_days, f"every {limit_days} days")


def bulk_review_dates(dates: Iterable[date | None], policy: QualityPolicy) -> dict[date, int]:
    """Review dates that so many of the KB's articles share that they record a bulk change
    (a migration, a scripted edit), not reviews: at least ``bulk_review_share`` of the
    articles and at least ``bulk_review_min`` of them. ``dates``: every article's
    last-reviewed date (None when it has none); returns ``{date: articles sharing it}``."""
    listed = list(dates)
    counts = Counter(d for d in listed if d is not None)
    floor = max(policy.bulk_review_min, math.ceil(policy.bulk_review_share * len(listed)), 2)
    return {day: count for day, count in counts.items() if count >= floor}


def stale_flag(article: Article, policy: QualityPolicy, as_of: date,
               bulk_dates: Mapping[date, int] | None = None) -> Flag | None:
    """Stale when last reviewed more than the allowed days before ``as_of`` (exactly = fine).
    A date in ``bulk_dates`` (see :func:`bulk_review_dates`) is reported as a date of record:
    the article was changed in bulk that day, which says nothing of a review."""
    limit, source = policy.stale_limit(article)
    if article.last_reviewed is None:
        bad = _bad_review_date(article)
        reason = (f"the last-reviewed date cannot be read ({bad})" if bad
                  else "no last-reviewed date, so nobody knows if it is still right")
        return make_flag(article, "stale", "medium", reason, "no-review-date",
                         last_reviewed=None, unreadable=bad,
                         as_of=as_of.isoformat(), limit_days=limit, limit_source=source)
    age = (as_of - article.last_reviewed).days
    if age <= limit:
        return None
    day = article.last_reviewed.isoformat()
    shared = (bulk_dates or {}).get(article.last_reviewed)
    limits = f"the policy allows {limit} days ({source})"
    reason = f"last reviewed {day}, {age} days before {as_of.isoformat()}; {limits}"
    record: dict[str, Any] = {}
    if shared is not None:
        reason = (f"last_reviewed {day} is shared by {shared:,} articles: a bulk change, not a "
                  f"review; {age} days before {as_of.isoformat()}, {limits}")
        record = {"date_of_record": True, "shared_by": shared}
    return make_flag(article, "stale", "medium", reason, "review-age", last_reviewed=day,
                     as_of=as_of.isoformat(), age_days=age, limit_days=limit,
                     limit_source=source, **record)


def expiry_flag(article: Article, policy: QualityPolicy, as_of: date) -> Flag | None:
    """Expired after its valid-until day; expiring within ``expiring_days`` of it."""
    until = article.valid_until
    if until is None:
        return None
    days = (until - as_of).days
    if days < 0:
        return make_flag(article, "expired", "high",
                         f"valid until {until.isoformat()}, {-days} days ago: it is no longer "
                         "used to answer questions", "valid-until",
                         valid_until=until.isoformat(), as_of=as_of.isoformat(),
                         days_past=-days)
    if days <= policy.expiring_days:
        return make_flag(article, "expiring", "medium",
                         f"valid until {until.isoformat()}, in {days} days", "valid-until",
                         valid_until=until.isoformat(), as_of=as_of.isoformat(), days_left=days)
    return None


@dataclass(frozen=True)
class ProductReading:
    """The products an article names, by verdict as of a date. Each row is one product at the
    strongest place it is named (``where``), with its lifecycle entry when the table has one;
    ``subject`` holds the rows of what the article is about (applies-to, product line, title)
    with their ``verdict``; ``retired_times`` counts the body's mentions of retired products."""

    retired: list[dict[str, Any]] = field(default_factory=list)
    supported: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)
    subject: list[dict[str, Any]] = field(default_factory=list)
    retired_times: int = 0

    def evidence(self, as_of: date) -> dict[str, Any]:
        return {"products": self.retired, "supported": self.supported, "unknown": self.unknown,
                "as_of": as_of.isoformat()}


def _row(mention: Mention, entry: LifecycleEntry | None) -> dict[str, Any]:
    row: dict[str, Any] = {"product": mention.product, "where": mention.where}
    if mention.where not in SUBJECT:
        row["times"] = mention.times
    if entry is not None:
        row.update(lifecycle=entry.name, end_of_support=entry.end_text, source=entry.source)
    return row


def read_products(article: Article, policy: QualityPolicy, as_of: date) -> ProductReading:
    """What :func:`lifecycle_flag` judges: the article's products sorted by verdict."""
    rows: dict[str, list[dict[str, Any]]] = {"retired": [], "supported": [], "unknown": []}
    subject: list[dict[str, Any]] = []
    retired_times = 0
    seen: set[tuple[str, str]] = set()
    for mention in article_products(article):
        entry = lookup(mention.product, policy.lifecycle)
        verdict = "unknown" if entry is None else "retired" if entry.ended(as_of) \
            else "supported"
        row = _row(mention, entry)
        if mention.where in SUBJECT:
            subject.append({**row, "verdict": verdict})
        elif verdict == "retired":
            retired_times += mention.times
        name = entry.name if entry is not None else mention.product.lower()
        if (name, verdict) not in seen:  # each product once, at its strongest place
            seen.add((name, verdict))
            rows[verdict].append(row)
    return ProductReading(rows["retired"], rows["supported"], rows["unknown"], subject,
                          retired_times)


def _named(rows: list[dict[str, Any]], limit: int = 4) -> str:
    """"Windows 7 (ended 2020-01-14), Office 2010 (ended 2020-10-13)"; one per lifecycle entry,
    dates only for retired products."""
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        unique.setdefault(row.get("lifecycle", row["product"].lower()), row)
    names = [f"{r['product']} (ended {r['end_of_support']})"
             if r.get("verdict", "retired") == "retired" and "end_of_support" in r
             else r["product"] for r in unique.values()]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def lifecycle_flag(article: Article, policy: QualityPolicy, as_of: date) -> Flag | None:
    """``obsolete`` (medium) when everything the article is about (applies-to, an "Applies
    to:" or "Original product version:" line, products in its title; with none of those, the
    products its text names, at least twice) is past end of support. ``partly-obsolete`` (low)
    when it is about a retired product and about supported or unknown ones too, or when a
    section heading or a scenario (coexistence with, migration from) needs a retired product
    next to current ones. Unknown products never count as supported; the evidence lists them."""
    found = read_products(article, policy, as_of)
    evidence = found.evidence(as_of)
    retired = [r for r in found.subject if r["verdict"] == "retired"]
    others = [r for r in found.subject if r["verdict"] != "retired"]
    if retired and not others:
        return make_flag(article, "obsolete", "medium", "applies only to products past end of "
                         f"support: {_named(retired)}", "products", **evidence)
    if retired:
        return make_flag(article, "partly-obsolete", "low",
                         f"about {_named(retired)} as well as {_named(others, 3)}: check what "
                         "only the retired products need", "products", **evidence)
    if not found.subject and found.retired and not found.supported and not found.unknown \
            and found.retired_times >= TEXT_ONLY_MENTIONS:
        return make_flag(article, "obsolete", "medium", "names only products past end of "
                         f"support: {_named(found.retired)}", "products", **evidence)
    needs = [r for r in found.retired if r["where"] in ("heading", "scenario")]
    if needs and (found.supported or found.unknown):
        where = "; ".join(f"{r['product']} (ended {r['end_of_support']}) in a {r['where']}"
                          for r in needs[:3])
        return make_flag(article, "partly-obsolete", "low",
                         f"part of it depends on retired products: {where}", "products",
                         **evidence)
    return None


def obsolete_flag(article: Article, policy: QualityPolicy, as_of: date) -> Flag | None:
    """The ``obsolete`` flag alone (every product the article is about is retired)."""
    flag = lifecycle_flag(article, policy, as_of)
    return flag if flag is not None and flag.kind == "obsolete" else None


def date_flags(article: Article, policy: QualityPolicy, as_of: date,
               bulk_dates: Mapping[date, int] | None = None) -> list[Flag]:
    """The date-dependent flags of one article; none for retired articles (out of service) and
    fragments (not articles). ``bulk_dates``: the KB's dates of record
    (:func:`bulk_review_dates`), so a stale flag can say its date was a bulk change."""
    if article.status == "retired" or is_fragment(article):
        return []
    found = (stale_flag(article, policy, as_of, bulk_dates), expiry_flag(article, policy, as_of),
             lifecycle_flag(article, policy, as_of))
    return [f for f in found if f is not None]
