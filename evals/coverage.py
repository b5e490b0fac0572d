"""The KB's coverage as an eval sees it: gaps, never-retrieved articles, stale citations."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import Any

from assistant.index import SearchIndex
from core.visibility import in_service


def coverage(rows: list[dict[str, Any]], index: SearchIndex, stale_ids: set[str],
             as_of: date) -> dict[str, Any]:
    retrieved = {a for r in rows for a in r["retrieved"]}
    gaps = [{"id": r["id"], "question": r["question"], "confidence": r["confidence"],
             "reason": "abstained" if r.get("answered") is False else "gold not in top 10"}
            for r in rows if r["answerable"] and (r.get("answered") is False
                                                  or r.get("recall@10", 0) == 0)]
    published = [a for a in index.articles if in_service(a, as_of)]
    never = [a for a in published if a.id not in retrieved]
    per_cat: dict[str, dict[str, int]] = defaultdict(lambda: {"articles": 0, "never": 0})
    for a in published:
        per_cat[a.category or "(none)"]["articles"] += 1
        if a.id not in retrieved:
            per_cat[a.category or "(none)"]["never"] += 1
    stale_cites = [{"id": r["id"], "articles": sorted(set(r["cited_articles"]) & stale_ids)}
                   for r in rows if r.get("answered") and set(r["cited_articles"]) & stale_ids]
    cited = Counter(a for r in rows for a in set(r.get("cited_articles") or []))
    return {
        "gaps": gaps,
        "never_retrieved": {"count": len(never), "of": len(published),
                            "examples": [a.id for a in never[:20]]},
        "answers_citing_stale": {"count": len(stale_cites), "questions": stale_cites[:50]},
        "most_cited": cited.most_common(10),
        "per_category": dict(sorted(per_cat.items(), key=lambda kv: -kv[1]["articles"])[:40]),
    }
