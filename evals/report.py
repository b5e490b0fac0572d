"""Write an eval's reports: JSON (the contract), a Markdown summary and an HTML page.

The HTML is self-contained (inline CSS and SVG), every value escaped.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from evals.metrics import percentile

HEADLINE = [
    ("retrieval", "recall@1"),
    ("retrieval", "recall@5"),
    ("retrieval", "recall@10"),
    ("retrieval", "mrr@10"),
    ("retrieval", "ndcg@10"),
    ("abstention", "auroc"),
    ("abstention", "abstain_at_95"),
    ("answers", "key_fact_recall"),
    ("latency", "p50_ms"),
    ("latency", "p95_ms"),
]


def _get(summary: dict[str, Any], section: str, key: str) -> Any:
    return summary.get(section, {}).get(key, "")


def markdown(report: dict[str, Any]) -> str:
    systems = {"kb": report, **report.get("baselines", {})}
    head = "| system | " + " | ".join(k for _, k in HEADLINE) + " |"
    lines = [
        f"# Eval: {report['dataset']}",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Index fingerprint: `{report['fingerprint']}`, as of {report['as_of']}, "
        f"{report['abstention']['answerable']} answerable / "
        f"{report['abstention']['unanswerable']} unanswerable questions.",
        "",
        head,
        "|" + "---|" * (len(HEADLINE) + 1),
    ]
    for name, summary in systems.items():
        lines.append(
            f"| {name} | " + " | ".join(str(_get(summary, s, k)) for s, k in HEADLINE) + " |"
        )
    ans = report["answers"]
    lines += [
        "",
        f"Answers (kb, answered questions): median length {ans.get('median_answer_lines')} "
        f"lines / {ans.get('median_answer_tokens')} tokens, first key fact on line "
        f"{ans.get('mean_first_fact_line')} on average, key-fact recall {ans['key_fact_recall']}, "
        f"all key facts present {ans['key_facts_all_present']}, citation precision "
        f"{ans['citation_precision']}, groundedness {ans['groundedness']}, token F1 "
        f"{ans['token_f1']}.",
        f"Abstention at the configured threshold: answers "
        f"{report['abstention'].get('answer_rate_answerable')} of answerable, abstains on "
        f"{report['abstention'].get('abstention_rate_unanswerable')} of unanswerable.",
    ]
    lines += _length_table(systems)
    cov = report.get("coverage")
    if cov:
        lines += [
            "",
            f"Coverage: {len(cov['gaps'])} answerable questions without a good article "
            f"in reach; {cov['never_retrieved']['count']} of {cov['never_retrieved']['of']}"
            f" published articles never retrieved; {cov['answers_citing_stale']['count']} "
            "answers cite stale articles.",
        ]
        missing = cov.get("missing_gold") or []
        if missing:
            lines.append(f"Gold article no longer in the KB for {len(missing)} question(s): "
                         + ", ".join(str(m.get("id", m)) if isinstance(m, dict) else str(m)
                                     for m in missing[:20]))
    return "\n".join(lines) + "\n"


def _length_table(systems: dict[str, dict[str, Any]]) -> list[str]:
    """``--by-length``: recall@1 / MRR@10 per gold-length bucket, one column per system."""
    buckets = systems["kb"].get("breakdowns", {}).get("gold_length")
    if not buckets:
        return []
    lines = ["", "By the gold article's length in words (recall@1 / MRR@10):", "",
             "| gold length | n | " + " | ".join(systems) + " |",
             "|---|---|" + "---|" * len(systems)]
    for bucket, kb_values in buckets.items():
        cells = []
        for summary in systems.values():
            v = summary.get("breakdowns", {}).get("gold_length", {}).get(bucket, {})
            cells.append(f"{v.get('recall@1', '')} / {v.get('mrr@10', '')}")
        lines.append(f"| {bucket} | {kb_values['n']} | " + " | ".join(cells) + " |")
    return lines


def _bars(
    values: list[float], color: str, x0: float, width: float, height: float, top: float
) -> str:
    n = len(values) or 1
    w = width / n
    return "".join(
        f'<rect x="{x0 + i * w + 1:.1f}" y="{height - v / top * (height - 20):.1f}" '
        f'width="{max(w - 2, 1):.1f}" height="{v / top * (height - 20):.1f}" fill="{color}"/>'
        for i, v in enumerate(values)
        if top
    )


def _histogram(pos: list[float], neg: list[float]) -> str:
    bins = 20

    def counts(vals: list[float]) -> list[float]:
        c = [0.0] * bins
        for v in vals:
            c[min(bins - 1, max(0, int(v * bins)))] += 1
        return c

    cp, cn = counts(pos), counts(neg)
    top = max(cp + cn + [1])
    return (
        f'<svg width="620" height="180" role="img" aria-label="confidence histogram">'
        f"{_bars(cp, '#2b7bb9aa', 10, 600, 170, top)}{_bars(cn, '#d9534faa', 10, 600, 170, top)}"
        '<text x="12" y="14" font-size="12">blue: answerable, red: unanswerable; '
        "x: confidence 0 to 1</text></svg>"
    )


def _recall_curve(rows: list[dict[str, Any]]) -> str:
    ans = [r for r in rows if r["answerable"]]
    points = []
    for k in range(1, 11):
        share = sum(1 for r in ans if set(r["gold_articles"]) & set(r["retrieved"][:k])) / (
            len(ans) or 1
        )
        points.append((k, share))
    path = " ".join(f"{40 + (k - 1) * 60},{170 - v * 150:.1f}" for k, v in points)
    labels = "".join(
        f'<text x="{40 + (k - 1) * 60 - 8}" y="{165 - v * 150:.1f}" font-size="10">{v:.2f}</text>'
        for k, v in points
    )
    return (
        f'<svg width="620" height="190" role="img" aria-label="recall at k">'
        f'<polyline points="{path}" fill="none" stroke="#2b7bb9" stroke-width="2"/>{labels}'
        '<text x="40" y="188" font-size="12">k = 1 .. 10 (hit rate of any gold article)'
        "</text></svg>"
    )


def html_page(report: dict[str, Any]) -> str:
    e = html.escape
    rows = report["per_question"]
    pos = [r["confidence"] for r in rows if r["answerable"]]
    neg = [r["confidence"] for r in rows if not r["answerable"]]
    systems = {"kb": report, **report.get("baselines", {})}
    table = "".join(
        f"<tr><td>{e(name)}</td>"
        + "".join(f"<td>{e(str(_get(s, a, b)))}</td>" for a, b in HEADLINE)
        + "</tr>"
        for name, s in systems.items()
    )
    cats = report.get("breakdowns", {}).get("category", {})
    cat_rows = "".join(
        f"<tr><td>{e(c)}</td><td>{v['n']}</td><td>{v['recall@1']}</td><td>{v['mrr@10']}</td></tr>"
        for c, v in cats.items()
    )
    worst = [r for r in rows if r["answerable"] and r.get("recall@1", 1) < 1][:40]
    worst_rows = "".join(
        f"<tr><td>{e(r['id'])}</td><td>{e(r['question'])}</td>"
        f"<td>{e(', '.join(r['gold_articles']))}</td>"
        f"<td>{e(', '.join(r['retrieved'][:3]))}</td></tr>"
        for r in worst
    )
    head = "".join(f"<th>{e(k)}</th>" for _, k in HEADLINE)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>kb eval: {e(report["dataset"])}</title><style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ccc;padding:4px 8px;
font-size:13px;vertical-align:top}}th{{background:#f3f5f8}}
code{{background:#f3f5f8;padding:2px 4px}}
</style></head><body><h1>kb eval: {e(report["dataset"])}</h1>
<p>Command: <code>{e(report["command"])}</code></p>
<p>Index fingerprint <code>{e(report["fingerprint"])}</code>, as of {e(report["as_of"])};
p95 threshold {e(str(percentile(pos, 5)) if pos else "")}</p>
<h2>Headline metrics</h2><table><tr><th>system</th>{head}</tr>{table}</table>
<h2>Recall@k</h2>{_recall_curve(rows)}
<h2>Confidence: answerable vs unanswerable</h2>{_histogram(pos, neg)}
<h2>Per category</h2><table><tr><th>category</th><th>n</th><th>recall@1</th><th>mrr@10</th></tr>
{cat_rows}</table>
<h2>Questions where the gold article was not first</h2><table><tr><th>id</th><th>question</th>
<th>gold</th><th>retrieved</th></tr>{worst_rows}</table></body></html>"""


def write_reports(report: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (out_dir / "report.md").write_text(markdown(report))
    (out_dir / "report.html").write_text(html_page(report))
