"""``kb tickets import|list|train`` and ``kb coverage --tickets``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import closing
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from core.errors import KbError
from kb_cli.ask_cmd import as_of_arg
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings, make_embedder, open_state

BATCH = 1000
SHOWN_BAD = 50


def _pair(value: str) -> tuple[str, str]:
    name, sep, column = value.partition("=")
    if not sep or not name.strip() or not column.strip():
        raise argparse.ArgumentTypeError(f"--map wants FIELD=COLUMN, got {value!r}")
    return name.strip(), column.strip()


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("tickets", help="import ticket exports; train the routing model")
    tsub = t.add_subparsers(dest="tickets_command", required=True, metavar="SUBCOMMAND")
    imp = tsub.add_parser("import", help="import a ServiceNow, Jira or mapped CSV export")
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", choices=("servicenow", "jira", "csv", "jsonl"),
                     help="default: recognised from the file")
    imp.add_argument("--map", action="append", type=_pair, default=[], metavar="FIELD=COLUMN",
                     help="csv/jsonl: the column of a ticket field (id, subject, text, "
                          "category, subcategory, group, labels, groups, opened, resolved, "
                          "resolution); repeatable")
    imp.add_argument("--encoding", help="the file's encoding (default: sniffed)")
    add_data_dir(imp)
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=run_import)
    ls = tsub.add_parser("list", help="stored tickets, with the last coverage run's outcome")
    ls.add_argument("--uncovered", action="store_true", help="only tickets kb would not answer")
    ls.add_argument("--limit", type=int, default=50)
    add_data_dir(ls)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)
    tr = tsub.add_parser("train", help="train the routing model from the stored tickets")
    add_data_dir(tr)
    tr.set_defaults(handler=run_train)
    c = sub.add_parser("coverage", help="would kb have answered the imported tickets?")
    c.add_argument("--tickets", action="store_true", required=True,
                   help="measure the imported tickets (kb tickets import)")
    c.add_argument("--since", type=as_of_arg, help="only tickets opened on or after DATE")
    c.add_argument("--as-of", type=as_of_arg, default=None, help="today, for date rules")
    c.add_argument("--report", type=Path, help="also write an HTML report here")
    add_data_dir(c)
    c.add_argument("--json", action="store_true")
    c.set_defaults(handler=run_coverage_cmd)


def _state(args: argparse.Namespace) -> Any:
    return closing(open_state(load_settings(args)))


def run_import(args: argparse.Namespace) -> int:
    from tickets.fields import BadRow
    from tickets.importers import detect_format, read_export
    from tickets.store import SaveCounts, save_tickets

    fmt = args.format or detect_format(args.file)
    items = read_export(args.file, fmt, dict(args.map), args.encoding)
    counts, bad = SaveCounts(), list[BadRow]()
    start = time.perf_counter()
    with _state(args) as conn:
        while chunk := list(islice(items, BATCH)):
            bad.extend(i for i in chunk if isinstance(i, BadRow))
            saved = save_tickets(conn, (i for i in chunk if not isinstance(i, BadRow)))
            counts = SaveCounts(counts.added + saved.added, counts.updated + saved.updated,
                                counts.unchanged + saved.unchanged)
    result = {"file": str(args.file), "format": fmt, **counts.__dict__,
              "tickets": counts.added + counts.updated + counts.unchanged,
              "bad_rows": [{"line": b.line, "unit": b.unit, "reason": b.reason} for b in bad],
              "seconds": round(time.perf_counter() - start, 2)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{args.file} ({fmt}): {result['tickets']} tickets: {counts.added} added, "
          f"{counts.updated} updated, {counts.unchanged} unchanged; {len(bad)} bad rows")
    for row in bad[:SHOWN_BAD]:
        print(f"  {row}")
    if len(bad) > SHOWN_BAD:
        print(f"  ... and {len(bad) - SHOWN_BAD} more (--json lists them all)")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from tickets.store import iter_tickets, outcomes

    with _state(args) as conn:
        done = outcomes(conn)
        rows: list[dict[str, Any]] = []
        for t in iter_tickets(conn):
            o = done.get(t.id)
            if args.uncovered and (o is None or o.covered):
                continue
            rows.append({"id": t.id, "subject": t.subject, "category": t.category,
                         "group": t.group, "opened_at": t.opened_at,
                         "covered": None if o is None else o.covered,
                         "article_id": o.article_id if o else None,
                         "cluster": o.cluster if o else None})
            if len(rows) == args.limit:
                break
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        mark = {None: "?", True: "answered", False: "uncovered"}[r["covered"]]
        print(f"{r['id']:<14} {mark:<9} {r['category'] or '':<12} {r['subject'][:70]}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from tickets.routing import router_path, save_router, train_router
    from tickets.store import iter_tickets

    settings = load_settings(args)
    with _state(args) as conn:
        tickets = [t for t in iter_tickets(conn) if t.category]
    if not tickets:
        raise KbError("no tickets with a category: run 'kb tickets import FILE' first")
    try:
        router = train_router([t.text for t in tickets], [t.category or "" for t in tickets],
                              [t.group for t in tickets], [t.id for t in tickets])
    except ValueError as exc:
        raise KbError(f"cannot train the routing model: {exc}") from None
    path = router_path(settings.data_dir)
    save_router(router, path)
    print(f"trained the routing model on {len(tickets)} tickets with a category: {path}")
    return 0


def _progress() -> Any:
    last = [time.monotonic()]

    def show(stage: str, done: int, total: int) -> None:
        if time.monotonic() - last[0] >= 10 or done == total:
            last[0] = time.monotonic()
            print(f"coverage: {stage} {done}/{total} tickets", file=sys.stderr)

    return show


def run_coverage_cmd(args: argparse.Namespace) -> int:
    from assistant.service import assistant_from_settings
    from tickets.coverage import run_coverage, since_filter
    from tickets.report import render_report
    from tickets.store import iter_tickets, save_run

    settings = load_settings(args)
    assistant = assistant_from_settings(settings, make_embedder(settings))
    tickets = since_filter(iter_tickets(assistant.state), args.since)
    if not tickets:
        raise KbError("no tickets to measure: run 'kb tickets import FILE' first"
                      + (f" (none opened since {args.since})" if args.since else ""))
    summary, outcomes = run_coverage(assistant, tickets, args.as_of or date.today(),
                                     _progress())
    summary["since"] = args.since.isoformat() if args.since else None
    summary["command"] = "kb " + " ".join(args.argv)
    save_run(assistant.state, summary, outcomes)
    if args.report:
        args.report.write_text(render_report(summary, summary["command"]), encoding="utf-8")
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print_summary(summary)
    if args.report:
        print(f"\nreport: {args.report}")
    return 0


def print_summary(s: dict[str, Any]) -> None:
    emb = s["embedding"]
    print(f"{s['tickets']} tickets, {s['covered']} answered confidently "
          f"({100 * s['share']:.0f}%); embedded at {emb['tickets_per_s']} tickets/s, "
          f"{s['seconds']} s in all")
    for title, rows in (("category", s["by_category"]), ("assignment group", s["by_group"]),
                        ("month", s["by_month"])):
        print(f"\nby {title}:")
        for r in rows[:12]:
            print(f"  {r['key'][:30]:<30} {r['covered']:>5}/{r['tickets']:<5} "
                  f"{100 * r['share']:4.0f}%")
    print("\narticles that would answer the most tickets:")
    for a in s["top_articles"][:10]:
        marks = " ".join((["STALE"] if a["stale"] else []) + a["flags"])
        print(f"  {a['tickets']:>4}  {a['title'][:60]}{'  [' + marks + ']' if marks else ''}")
    print("\narticles to write (uncovered tickets by topic):")
    for c in s["clusters"]:
        print(f"  {c['size']:>4} tickets ({100 * c['share']:.0f}%): {', '.join(c['terms'])}")
        for e in c["examples"][:3]:
            print(f"         e.g. {e['subject'][:70]}")
        if c["nearest"]:
            print(f"         nearest: {c['nearest'][0]['title'][:60]} "
                  f"({c['nearest'][0]['similarity']:.2f})")
    print(f"  ({s['clustering']['unclustered']} one-off tickets in no topic)")
