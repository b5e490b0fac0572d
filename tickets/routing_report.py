"""The ``kb eval-routing`` report: a plain-text summary and a self-contained HTML page."""

from __future__ import annotations

from html import escape
from typing import Any

STYLE = ("body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
         "padding:3px 8px;text-align:right}th:first-child,td:first-child{text-align:left}"
         "code{background:#f3f3f3;padding:2px 4px}")


def summary_text(report: dict[str, Any]) -> str:
    """What ``kb eval-routing`` prints: both models' figures, then the coverage curve."""
    router, base = report["router"], report["baseline"]
    lines = [f"{report['tickets']} tickets: trained on {report['train']}, "
             f"reported on {report['test']} held out (stratified 80/20, seed 0)",
             f"{'':10} {'accuracy':>9} {'macro F1':>9} {'train s':>8}",
             f"{'router':10} {router['accuracy']:9.4f} {router['macro_f1']:9.4f} "
             f"{router['train_seconds']:8.1f}",
             f"{'baseline':10} {base['accuracy']:9.4f} {base['macro_f1']:9.4f} "
             f"{base['train_seconds']:8.1f}"]
    stored = router["at_stored_threshold"]
    lines.append(f"router's threshold {stored['threshold']:.3f}: keeps {stored['coverage']:.1%}"
                 f" of tickets at {stored['accuracy']:.1%} accuracy (the rest: 'not sure')")
    if "group_accuracy" in router:
        lines.append(f"assignment group accuracy {router['group_accuracy']:.4f}")
    lines.append("coverage  threshold  accuracy")
    lines += [f"{c['coverage']:8.1%}  {c['threshold']:9.3f}  {c['accuracy']:8.1%}"
              for c in router["coverage_curve"]]
    return "\n".join(lines)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = "".join(f"<th>{escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def _per_class(report: dict[str, Any]) -> str:
    router, base = report["router"]["per_class"], report["baseline"]["per_class"]
    rows = [[label, router[label]["support"], router[label]["precision"],
             router[label]["recall"], router[label]["f1"], base[label]["precision"],
             base[label]["recall"], base[label]["f1"]] for label in report["labels"]]
    return _table(["category", "support", "router P", "router R", "router F1", "baseline P",
                   "baseline R", "baseline F1"], rows)


def _confusion(labels: list[str], matrix: list[list[int]]) -> str:
    rows = [[label, *counts] for label, counts in zip(labels, matrix, strict=True)]
    return _table(["true \\ predicted", *labels], rows)


def report_html(report: dict[str, Any], command: str) -> str:
    router, base = report["router"], report["baseline"]
    summary = _table(["model", "accuracy", "macro F1", "train seconds", "what"], [
        ["router", router["accuracy"], router["macro_f1"], router["train_seconds"],
         router["model"]],
        ["baseline", base["accuracy"], base["macro_f1"], base["train_seconds"], base["model"]]])
    curve = _table(["coverage", "threshold", "accuracy"],
                   [[c["coverage"], c["threshold"], c["accuracy"]]
                    for c in router["coverage_curve"]])
    stored = router["at_stored_threshold"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kb routing evaluation</title>
<style>{STYLE}</style></head><body>
<h1>Routing evaluation</h1>
<p>Made by <code>{escape(command)}</code></p>
<p>{report['tickets']} tickets: both models trained on {report['train']} (80%), reported on
{report['test']} held out (20%, stratified by category, random_state=0).</p>
{summary}
<h2>Confidence: coverage against accuracy</h2>
<p>The router's stored threshold ({stored['threshold']}, chosen on training folds) keeps
{stored['coverage']} of the held-out tickets at accuracy {stored['accuracy']}.</p>
{curve}
<h2>Per category</h2>
{_per_class(report)}
<h2>Confusion matrix: router</h2>
{_confusion(report['labels'], router['confusion'])}
<h2>Confusion matrix: baseline</h2>
{_confusion(report['labels'], base['confusion'])}
</body></html>
"""
