"""Rules that depend on the reference date: stale, expiring, expired, obsolete.

Every rule takes ``as_of`` (kb's "now") so that a report can be reproduced, and a corpus can be
judged as of its snapshot. Dates in the evidence are ISO strings.
"""

from __future__ import annotations

from datetime import date

from core.types import Article, Flag
from ingest.quality.flag import make_flag
from ingest.quality.lifecycle import lookup
from ingest.quality.policy import QualityPolicy
from ingest.quality.structure import is_fragment


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


def stale_flag(article: Article, policy: QualityPolicy, as_of: date) -> Flag | None:
    """Stale when last reviewed more than the allowed days before ``as_of`` (exactly = fine)."""
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
    return make_flag(article, "stale", "medium",
                     f"last reviewed {article.last_reviewed.isoformat()}, {age} days before "
                     f"{as_of.isoformat()}; the policy allows {limit} days ({source})",
                     "review-age", last_reviewed=article.last_reviewed.isoformat(),
                     as_of=as_of.isoformat(), age_days=age, limit_days=limit,
                     limit_source=source)


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


def obsolete_flag(article: Article, policy: QualityPolicy, as_of: date) -> Flag | None:
    """Obsolete when every product the article applies to is past end of support."""
    if not article.products:
        return None
    found = []
    for product in article.products:
        entry = lookup(product, policy.lifecycle)
        if entry is None or entry.end_of_support >= as_of:
            return None
        found.append({"product": product, "lifecycle": entry.name,
                      "end_of_support": entry.end_of_support.isoformat(),
                      "source": entry.source})
    names = ", ".join(f"{f['product']} (ended {f['end_of_support']})" for f in found[:4])
    more = f" and {len(found) - 4} more" if len(found) > 4 else ""
    return make_flag(article, "obsolete", "medium",
                     f"applies only to products past end of support: {names}{more}",
                     "products", products=found, as_of=as_of.isoformat())


def date_flags(article: Article, policy: QualityPolicy, as_of: date) -> list[Flag]:
    """The date-dependent flags of one article; none for retired articles (out of service) and
    fragments (not articles)."""
    if article.status == "retired" or is_fragment(article):
        return []
    found = (stale_flag(article, policy, as_of), expiry_flag(article, policy, as_of),
             obsolete_flag(article, policy, as_of))
    return [f for f in found if f is not None]
