"""``kb route`` (which queue a ticket belongs to) and ``kb eval-routing`` (how well that
works, against a TF-IDF + SVM baseline, on held-out labelled tickets)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import Any

from core.paths import live_index
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings, make_embedder


def confidence_arg(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError("give a probability between 0 and 1")
    return number


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("route", help="suggest the category and group for a ticket text")
    p.add_argument("text", help="the ticket's subject and description")
    add_data_dir(p)
    p.add_argument("--k", type=int, default=5, help="similar past tickets to show")
    p.add_argument("--min-confidence", type=confidence_arg, default=None,
                   help="below this, say 'not sure' (default: the threshold stored with the "
                        "model by kb tickets train)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_route)
    e = sub.add_parser("eval-routing", help="routing accuracy on a labelled ticket CSV, with "
                                            "a baseline (80/20 split)")
    e.add_argument("file", type=Path, help="CSV with ticket_id,text,category[,group]")
    e.add_argument("--out", type=Path, help="write report.html and report.json here")
    e.add_argument("--json", action="store_true")
    e.set_defaults(handler=run_eval_routing)


def suggestion_json(suggestion: Any, articles: list[dict[str, str]]) -> dict[str, Any]:
    """The ``kb route --json`` / ``POST /api/route`` shape."""
    out = asdict(suggestion)
    out["alternatives"] = [{"category": c, "confidence": p} for c, p in suggestion.alternatives]
    out["similar_tickets"] = [t._asdict() for t in suggestion.similar_tickets]
    out["articles"] = articles
    return out


def run_route(args: argparse.Namespace) -> int:
    from tickets.routing import closest_articles, load_router, router_path

    settings = load_settings(args)
    router = load_router(router_path(settings.data_dir))
    if args.min_confidence is not None:
        router = replace(router, threshold=args.min_confidence)
    suggestion = router.suggest(args.text, k=args.k)
    articles: list[dict[str, str]] = []
    if live_index(settings.data_dir, create=False).catalog.exists():
        from assistant.service import assistant_from_settings
        from assistant.types import Viewer

        assistant = assistant_from_settings(settings, make_embedder(settings))
        # an admin's tool: every in-service article, whatever its groups
        articles = closest_articles(assistant, args.text, Viewer(all_groups=True),
                                    date.today(), 3)
    if args.json:
        print(json.dumps(suggestion_json(suggestion, articles), indent=2))
        return 0
    print(route_text(suggestion, router.threshold, articles))
    return 0


def route_text(s: Any, threshold: float, articles: list[dict[str, str]]) -> str:
    if s.known:
        lines = [f"category: {s.category} (confidence {s.confidence:.2f})"]
    else:
        lines = [f"not sure: the best guess is {s.category} at confidence {s.confidence:.2f}, "
                 f"below {threshold:.2f}; route it by hand"]
    if s.group is not None:
        lines.append(f"group:    {s.group} (confidence {s.group_confidence:.2f})")
    if s.alternatives:
        lines.append("else:     " + ", ".join(f"{c} {p:.2f}" for c, p in s.alternatives))
    if s.similar_tickets:
        lines.append("\nSimilar past tickets:")
        lines += [f"  {t.id}  {t.category:<24} {t.similarity:.2f}  {t.text[:80]}"
                  for t in s.similar_tickets]
    if articles:
        lines.append("\nKB articles:")
        lines += [f"  - {a['title']} ({a['article_id']})" for a in articles]
    return "\n".join(lines)


def run_eval_routing(args: argparse.Namespace) -> int:
    from tickets.routing_eval import evaluate_routing, read_labelled
    from tickets.routing_report import report_html, summary_text

    rows = read_labelled(args.file)
    print(f"{len(rows)} labelled tickets: training the router and the baseline on 80% "
          "(about 6 s per 1,000 tickets)...", file=sys.stderr)
    report = evaluate_routing(rows)
    command = "kb " + " ".join(shlex.quote(a) for a in args.argv)
    report = {"command": command, **report}
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        (args.out / "report.html").write_text(report_html(report, command), encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(summary_text(report))
    if args.out:
        print(f"\nreport: {args.out / 'report.html'}")
    return 0
