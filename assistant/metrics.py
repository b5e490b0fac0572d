"""The KPIs a service desk reports about kb, computed from the answer log and the index.

Questions per day (answered vs not covered), helpful rate, most-cited articles, the share of
answers citing a stale article, and KB health counts. Every rate states its denominator.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from assistant.index import SearchIndex
from core.store.db import Connection
from core.visibility import Audience, in_service, visible


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def per_day(conn: Connection, as_of: date, days: int) -> list[dict[str, Any]]:
    """One row per day of the window, oldest first, zeros where nothing was asked."""
    start = as_of - timedelta(days=days - 1)
    rows = conn.execute("SELECT substr(asked_at, 1, 10) AS day, count(*), sum(answered) "
                        "FROM answers WHERE asked_at >= ? GROUP BY day",
                        (start.isoformat(),)).fetchall()
    got = {r[0]: (r[1], r[2] or 0) for r in rows}
    out = []
    for i in range(days):
        day = (start + timedelta(days=i)).isoformat()
        total, answered = got.get(day, (0, 0))
        out.append({"day": day, "questions": total, "answered": answered,
                    "not_covered": total - answered})
    return out


def kpis(conn: Connection, index: SearchIndex, as_of: date,
         stale_check: Callable[[str], tuple[bool, str | None]],
         open_flags: Mapping[str, int], audience: Audience, days: int = 30) -> dict[str, Any]:
    """Everything the dashboard shows, as one JSON-ready dict, on the articles ``audience``
    may see (a restricted article's title and counts stay with its groups)."""
    total, answered, stale_cited = conn.execute(
        "SELECT count(*), coalesce(sum(answered), 0), coalesce(sum(stale_cited), 0) "
        "FROM answers").fetchone()
    helpful, rated = conn.execute(
        "SELECT coalesce(sum(helpful), 0), count(*) FROM feedback").fetchone()
    cited: Counter[str] = Counter()
    for (cited_json,) in conn.execute("SELECT cited FROM answers WHERE answered = 1"):
        cited.update(json.loads(cited_json))
    latencies = sorted(r[0] for r in conn.execute(
        "SELECT latency_ms FROM answers WHERE latency_ms IS NOT NULL ORDER BY asked_at DESC "
        "LIMIT 1000"))
    shown = [a for a in index.articles if visible(audience, a, as_of)]
    titles = {a.id: a.title for a in shown}
    published = [a for a in shown if in_service(a, as_of)]
    return {
        "as_of": as_of.isoformat(), "days": days,
        "totals": {
            "questions": total, "answered": answered, "not_covered": total - answered,
            "answer_rate": _rate(answered, total), "rated": rated, "helpful": helpful,
            "helpful_rate": _rate(helpful, rated),
            "stale_cited": stale_cited, "stale_share": _rate(stale_cited, answered),
            "p50_latency_ms": latencies[len(latencies) // 2] if latencies else None,
        },
        "per_day": per_day(conn, as_of, days),
        "most_cited": [{"article_id": a, "title": titles.get(a, a), "count": n}
                       for a, n in cited.most_common() if a in titles][:10],
        "health": {
            "articles": len(shown), "published": len(published),
            "restricted": sum(1 for a in published if a.groups),
            "stale": sum(1 for a in published if stale_check(a.id)[0]),
            "open_flags": sum(open_flags.values()), "open_flags_by_kind": dict(open_flags),
        },
    }
