"""The KB health report: one self-contained HTML page (inline CSS and SVG, no scripts).

Counts per kind and per owner, a chart of article age (time since last review), and the worst
articles first, each with its reasons. Every value from articles is escaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from core.types import Article
from ingest.quality.flag import SEVERITY_RANK
from ingest.quality.queue import QueueItem

AGE_BUCKETS = ((182, "under 6 months"), (365, "6-12 months"), (730, "1-2 years"),
               (1095, "2-3 years"), (1826, "3-5 years"), (None, "over 5 years"))
NO_DATE = "no review date"
MAX_ARTICLES = 300


@dataclass(frozen=True)
class ArticleRow:
    article_id: str
    title: str
    owner: str | None
    last_reviewed: date | None
    items: tuple[QueueItem, ...]


@dataclass(frozen=True)
class Health:
    as_of: date
    articles: int
    flagged: int
    by_kind: dict[str, Counter[str]]
    by_owner: dict[str, Counter[str]]
    ages: list[tuple[str, int]]
    worst: list[ArticleRow]


def age_histogram(articles: Sequence[Article], as_of: date) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for article in articles:
        if article.last_reviewed is None:
            counts[NO_DATE] += 1
            continue
        days = (as_of - article.last_reviewed).days
        label = next(lbl for limit, lbl in AGE_BUCKETS if limit is None or days < limit)
        counts[label] += 1
    return [(lbl, counts[lbl]) for _, lbl in AGE_BUCKETS] + [(NO_DATE, counts[NO_DATE])]


def _worst_key(row: ArticleRow) -> tuple:
    ranks = Counter(SEVERITY_RANK.get(i.flag.severity, 9) for i in row.items)
    first = row.items[0]
    return (min(ranks), -ranks[0], -ranks[1], -ranks[2], -first.signals.citations,
            -first.signals.negative_feedback, row.last_reviewed or date.min, row.article_id)


def build_health(items: Sequence[QueueItem], articles: Sequence[Article], as_of: date) -> Health:
    """What the page shows, from queue items (already filtered) and all live articles."""
    by_kind: dict[str, Counter[str]] = {}
    by_owner: dict[str, Counter[str]] = {}
    grouped: dict[str, list[QueueItem]] = {}
    for item in items:
        by_kind.setdefault(item.flag.kind, Counter())[item.flag.severity] += 1
        by_owner.setdefault(item.owner or "(no owner)", Counter())[item.flag.severity] += 1
        grouped.setdefault(item.flag.article_id, []).append(item)
    rows = [ArticleRow(aid, group[0].title, group[0].owner, group[0].last_reviewed,
                       tuple(group)) for aid, group in grouped.items()]
    live = [a for a in articles if a.status != "retired"]
    return Health(as_of, len(live), len(grouped),
                  dict(sorted(by_kind.items(), key=lambda kv: -sum(kv[1].values()))),
                  dict(sorted(by_owner.items(), key=lambda kv: -sum(kv[1].values()))),
                  age_histogram(live, as_of), sorted(rows, key=_worst_key))


CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2430;
padding:0 1rem}
h1{font-size:1.6rem;margin:0}h2{font-size:1.2rem;margin-top:2rem}
code,.cmd{font-family:ui-monospace,monospace;font-size:.85em}
.cmd{background:#f3f4f6;padding:.4rem .6rem;border-radius:4px;display:block;overflow-x:auto}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .7rem;text-align:left;
border-bottom:1px solid #e5e7eb}th{background:#f9fafb}td.n{text-align:right}
.sev{display:inline-block;min-width:4.2rem;font-size:.75rem;font-weight:600;border-radius:3px;
padding:0 .3rem;text-align:center}.high{background:#fde2e1;color:#9b1c1c}
.medium{background:#fef3c7;color:#8a4b08}.low{background:#e0ecff;color:#1e429f}
.art{border:1px solid #e5e7eb;border-radius:6px;padding:.6rem .9rem;margin:.6rem 0}
.art h3{font-size:1rem;margin:0 0 .2rem}.meta{color:#5b6472;font-size:.85rem}
.art ul{margin:.4rem 0 0;padding-left:1.1rem}.state{color:#5b6472;font-size:.8rem}
.kind{font-weight:600}
"""


def _counts_table(title: str, label: str, data: dict[str, Counter[str]]) -> str:
    head = "".join(f"<th>{s}</th>" for s in ("high", "medium", "low"))
    body = "".join(
        f"<tr><td>{escape(name)}</td>" + "".join(f'<td class="n">{c[s]}</td>'
                                                 for s in ("high", "medium", "low"))
        + f'<td class="n">{sum(c.values())}</td></tr>' for name, c in data.items())
    return (f"<h2>{escape(title)}</h2><table><tr><th>{escape(label)}</th>{head}<th>total</th>"
            f"</tr>{body or '<tr><td colspan=5>none</td></tr>'}</table>")


def age_chart(ages: list[tuple[str, int]]) -> str:
    """A horizontal bar chart as inline SVG."""
    width, bar_h, gap, label_w = 640, 22, 8, 130
    top = max((n for _, n in ages), default=0) or 1
    height = len(ages) * (bar_h + gap)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="articles by time since last review">']
    for row, (label, count) in enumerate(ages):
        y = row * (bar_h + gap)
        w = round((width - label_w - 60) * count / top)
        colour = "#9ca3af" if label == NO_DATE else ("#2563eb" if row < 2 else "#d97706")
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" '
                     f'fill="{colour}"/><text x="{label_w + w + 6}" y="{y + 15}" '
                     f'font-size="12">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _article(row: ArticleRow) -> str:
    reviewed = row.last_reviewed.isoformat() if row.last_reviewed else "never"
    reasons = "".join(
        f'<li><span class="sev {escape(i.flag.severity)}">{escape(i.flag.severity)}</span> '
        f'<span class="kind">{escape(i.flag.kind)}</span>: {escape(i.flag.reason)} '
        f'<span class="state">[{escape(i.state)}]</span></li>' for i in row.items)
    return (f'<div class="art"><h3>{escape(row.title)}</h3><div class="meta">'
            f"<code>{escape(row.article_id)}</code> &middot; owner "
            f"{escape(row.owner or '(none)')} &middot; last reviewed {reviewed}</div>"
            f"<ul>{reasons}</ul></div>")


def render_html(health: Health, command: str) -> str:
    total = sum(sum(c.values()) for c in health.by_kind.values())
    shown = health.worst[:MAX_ARTICLES]
    more = len(health.worst) - len(shown)
    return "".join([
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>KB health report, as of {health.as_of.isoformat()}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>KB health report</h1><p>As of {health.as_of.isoformat()}: "
        f"{health.articles} articles in service, {health.flagged} with flags, {total} flags."
        f"</p><p>Reproduce with:</p><span class=\"cmd\">{escape(command)}</span>",
        _counts_table("Flags per kind", "kind", health.by_kind),
        _counts_table("Flags per owner", "owner", health.by_owner),
        "<h2>Article age (time since last review)</h2>", age_chart(health.ages),
        "<h2>Worst articles first</h2>",
        "".join(_article(r) for r in shown),
        f"<p>{more} more flagged articles not shown.</p>" if more > 0 else "",
        "</body></html>\n"])
