"""``kb eval``, ``kb promote`` and ``kb rollback``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import date
from pathlib import Path

from core.errors import KbError
from core.paths import live_index
from evals.index_eval import eval_index, gate
from evals.report import markdown, write_reports
from ingest.run import terminal_progress
from ingest.staging import promote, record_stage_eval, rollback, stage_index
from kb_cli.ask_cmd import as_of_arg
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings, make_embedder


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate retrieval and answers on a dataset")
    p.add_argument("dataset", type=Path)
    add_data_dir(p)
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.add_argument("--out", type=Path, help="write report.json, report.md, report.html here")
    p.add_argument("--baselines", action="store_true", help="add BM25-only, dense-only, naive")
    p.add_argument("--baseline", type=Path, help="previous report.json: exit 1 on regression")
    p.add_argument("--max-drop", type=float, default=0.02, help="allowed drop per metric")
    p.add_argument("--stage", action="store_true", help="evaluate the staging index vs live")
    p.add_argument("--as-of", type=as_of_arg, default=None, help="today, for date rules")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--by-length", action="store_true",
                   help="break results down by the gold article's length in words")
    p.set_defaults(handler=run_eval)
    pr = sub.add_parser("promote", help="make the staging index live (needs a passing eval)")
    add_data_dir(pr)
    pr.add_argument("--force", action="store_true", help="promote without a passing eval")
    pr.add_argument("--by", help="who promotes (recorded)")
    pr.set_defaults(handler=run_promote)
    rb = sub.add_parser("rollback", help="make the previous index live again")
    add_data_dir(rb)
    rb.add_argument("--by", help="who rolls back (recorded)")
    rb.set_defaults(handler=run_rollback)


def run_eval(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    embedder = make_embedder(settings)
    as_of = args.as_of or date.today()
    paths = stage_index(settings.data_dir) if args.stage else live_index(settings.data_dir,
                                                                         create=False)
    command = "kb " + " ".join(shlex.quote(a) for a in getattr(args, "argv", sys.argv[1:]))
    progress = None if args.json else terminal_progress("eval", "questions")
    report = eval_index(paths, args.dataset, embedder, settings, as_of, args.baselines,
                        args.limit, command, progress, args.by_length)
    before, compared_to = None, None
    if args.baseline:
        if not args.baseline.exists():
            raise KbError(f"{args.baseline}: baseline report not found")
        before, compared_to = json.loads(args.baseline.read_text()), str(args.baseline)
    elif args.stage:
        before = eval_index(live_index(settings.data_dir, create=False), args.dataset, embedder,
                            settings, as_of, limit=args.limit, command=command)
        compared_to = "live index"
    report["gate"] = gate(report, before, compared_to, args.max_drop)
    regressions = report["gate"]["regressions"]
    if args.stage:
        record_stage_eval(settings.data_dir, {"passed": not regressions, "regressions": [
            f"{r['metric']} {r['before']:.3f} -> {r['after']:.3f}" for r in regressions]})
    if args.out:
        write_reports(report, args.out)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(markdown(report))
        if args.out:
            print(f"reports written to {args.out}/report.{{json,md,html}}")
    for r in regressions:
        print(f"REGRESSION {r['metric']}: {r['before']:.4f} -> {r['after']:.4f}; questions that "
              f"flipped: {', '.join(r['flipped'][:20]) or '-'}", file=sys.stderr)
    return 1 if regressions else 0


def run_promote(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    name = promote(settings.data_dir, args.force, args.by)
    print(f"{name} is live")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    name = rollback(settings.data_dir, args.by)
    print(f"rolled back: {name} is live")
    return 0
