"""A coverage run as one self-contained HTML page (no scripts, no external assets).

Every value from tickets and articles is escaped; the command that made the report is at
its top, so it can be reproduced.
"""

from __future__ import annotations

from html import escape
from typing import Any

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2433;
padding:0 1rem}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.8rem 0 .6rem}
code{background:#f1f3f7;padding:.1rem .3rem;border-radius:4px}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #dde2ea;border-radius:8px;
padding:.8rem 1rem;min-width:150px}.card b{display:block;font-size:1.5rem}
table{border-collapse:collapse;width:100%;margin:.3rem 0}th,td{text-align:left;
padding:.3rem .5rem;border-bottom:1px solid #e7eaf0;vertical-align:top}th{font-weight:600}
.bar{display:inline-block;height:.6rem;background:#3a7bd5;border-radius:3px;margin-right:.4rem}
.badge{display:inline-block;padding:0 .4rem;border-radius:4px;font-size:.8rem;
background:#fdecea;color:#8a1c12;margin-right:.3rem}.badge.stale{background:#fff4d6;
color:#7a5200}.topic{border:1px solid #dde2ea;border-radius:8px;padding:.6rem 1rem;
margin:.8rem 0}.terms span{background:#eef3fb;border-radius:4px;padding:0 .4rem;
margin-right:.3rem}.muted{color:#667085}ul{margin:.3rem 0}
"""


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def _bar(share: float) -> str:
    return f'<span class="bar" style="width:{max(2, round(120 * share))}px"></span>'


def _table(title: str, rows: list[dict[str, Any]]) -> str:
    body = "".join(f"<tr><td>{escape(str(r['key']))}</td><td>{r['tickets']}</td>"
                   f"<td>{r['covered']}</td><td>{_bar(r['share'])}{_pct(r['share'])}</td></tr>"
                   for r in rows)
    return (f"<h2>By {escape(title)}</h2><table><tr><th>{escape(title)}</th><th>tickets</th>"
            f"<th>answered</th><th>share answered</th></tr>{body}</table>")


def _articles(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p class=muted>No ticket would be answered confidently.</p>"
    out = []
    for r in rows:
        badges = ('<span class="badge stale">stale</span>' if r.get("stale") else "") + "".join(
            f'<span class="badge">{escape(f)}</span>' for f in r.get("flags", [])
            if not (r.get("stale") and f == "stale"))
        out.append(f"<tr><td>{escape(r['title'])}<br><span class=muted>"
                   f"{escape(r['article_id'])}</span></td><td>{r['tickets']}</td>"
                   f"<td>{_pct(r['share'])}</td><td>{badges}</td></tr>")
    return ("<table><tr><th>article</th><th>tickets</th><th>share of demand</th>"
            f"<th>review first</th></tr>{''.join(out)}</table>")


def _topics(clusters: list[dict[str, Any]]) -> str:
    if not clusters:
        return "<p class=muted>No topic: the uncovered tickets are all one-offs.</p>"
    out = []
    for c in clusters:
        terms = "".join(f"<span>{escape(t)}</span>" for t in c["terms"])
        examples = "".join(f"<li>{escape(e['subject'])} <span class=muted>"
                           f"({escape(e['id'])})</span></li>" for e in c["examples"])
        nearest = ", ".join(f"{escape(a['title'])} ({a['similarity']:.2f})"
                            for a in c["nearest"]) or "none"
        out.append(f"<div class=topic><b>{c['size']} tickets</b> ({_pct(c['share'])} of "
                   f"demand) <span class=terms>{terms}</span><ul>{examples}</ul>"
                   f"<span class=muted>Nearest articles: {nearest}</span></div>")
    return "".join(out)


def render_report(summary: dict[str, Any], command: str) -> str:
    """The HTML page of a coverage run."""
    emb = summary.get("embedding", {})
    quality = summary.get("clustering", {})
    cards = [("tickets", summary["tickets"]), ("answered confidently", summary["covered"]),
             ("share answered", _pct(summary["share"])),
             ("topics to write", len(summary["clusters"])),
             ("embedding", f"{emb.get('tickets_per_s', 0)} tickets/s")]
    sil = quality.get("silhouette")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kb demand coverage</title>
<style>{CSS}</style></head><body>
<p class=muted>Reproduce: <code>{escape(command)}</code></p>
<h1>Demand coverage</h1>
<p class=muted>Run {escape(summary['run_at'])}, as of {escape(summary['as_of'])}; a ticket
counts as answered when <code>kb ask</code> would answer it (confidence at least
{summary['threshold']}).</p>
<div class=cards>{''.join(f'<div class=card><b>{escape(str(v))}</b>{escape(k)}</div>'
                          for k, v in cards)}</div>
<h2>Articles to write</h2>
<p class=muted>Tickets kb would not answer, grouped by topic
({escape(str(quality.get('method', '')))}, distance {quality.get('distance')};
{quality.get('clustered', 0)} tickets in topics, {quality.get('unclustered', 0)} one-offs;
silhouette {sil if sil is not None else 'n/a'}).</p>
{_topics(summary['clusters'])}
<h2>Articles that would answer the most tickets</h2>
{_articles(summary['top_articles'])}
{_table('category', summary['by_category'])}
{_table('assignment group', summary['by_group'])}
{_table('month', summary['by_month'])}
</body></html>
"""
