"""``kb flags`` (the review queue, ``--json``, ``--report``) and ``kb review``."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shlex
import sqlite3
import sys
from datetime import date
from pathlib import Path
from typing import Any

from assistant import review_queue
from assistant.review_actions import Stores, apply_action
from assistant.review_queue import REPORTED
from core.errors import KbError
from core.paths import live_index
from core.settings import Settings
from core.store import catalog
from core.store.db import Connection
from core.store.flag_states import STATES
from core.types import Article
from ingest.metadata import parse_date
from ingest.quality.policy import KINDS, policy_from_settings
from ingest.quality.queue import QueueItem
from ingest.quality.report import build_health, render_html
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings, open_state

STATE_CHOICES = (*STATES, "active", "all")


def date_arg(value: str) -> date:
    try:
        parsed = parse_date(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if parsed is None:
        raise argparse.ArgumentTypeError("empty date")
    return parsed


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("flags", help="article quality flags: the content owners' review queue")
    add_data_dir(p)
    p.add_argument("--as-of", type=date_arg, help="reference date for date rules (default today)")
    p.add_argument("--kind", choices=(*KINDS, REPORTED), help="only this kind of flag")
    p.add_argument("--owner", help="only articles of this owner ('none' for no owner)")
    p.add_argument("--state", choices=STATE_CHOICES, default="active",
                   help="open, acknowledged, fixed, dismissed; active = open + acknowledged "
                        "(default); all")
    p.add_argument("--json", action="store_true", help="print a JSON list of flags")
    p.add_argument("--report", metavar="FILE.html", help="write the KB health report here")
    p.set_defaults(handler=run_flags)
    r = sub.add_parser("review", help="act on an article's flags: acknowledge, dismiss, reopen, "
                                      "resolve, mark reviewed, reassign its owner")
    r.add_argument("article_id")
    action = r.add_mutually_exclusive_group(required=True)
    action.add_argument("--ack", action="store_true", help="acknowledge its active flags")
    action.add_argument("--dismiss", metavar="REASON", help="dismiss its flags, saying why")
    action.add_argument("--reopen", action="store_true", help="reopen its closed flags")
    action.add_argument("--resolve", metavar="NOTE",
                        help="mark its flags fixed, saying what was done (closes agents' "
                             "reports)")
    action.add_argument("--reviewed", action="store_true",
                        help="mark it reviewed today (or --as-of): closes stale and expiring")
    action.add_argument("--reassign", metavar="OWNER", help="make OWNER the article's owner")
    r.add_argument("--confirm-products", action="store_true",
                   help="with --reviewed: the products are still right (closes obsolete "
                        "and partly-obsolete)")
    r.add_argument("--flag", metavar="KIND", choices=(*KINDS, REPORTED),
                   help="only flags of this kind")
    r.add_argument("--by", help="who is acting (default: the login name)")
    r.add_argument("--as-of", type=date_arg, help="the date to use (default today)")
    add_data_dir(r)
    r.set_defaults(handler=run_review)


def open_stores(settings: Settings) -> tuple[sqlite3.Connection, Connection]:
    index = live_index(settings.data_dir, create=False)
    if not index.catalog.exists():
        raise KbError(f"no index in {settings.data_dir}: run 'kb ingest' first")
    return catalog.connect(index.catalog), open_state(settings)


def queue_for(settings: Settings, args: argparse.Namespace, as_of: date
              ) -> tuple[list[QueueItem], list[Article]]:
    """The same queue as the web's (owner reassignments, agents' reports), for everyone."""
    conn, state = open_stores(settings)
    articles = list(catalog.iter_articles(conn))
    state_filter = None if args.state == "all" else args.state
    items = review_queue.queue(conn, state, articles, policy_from_settings(settings), as_of,
                               review_queue.Filters(args.kind, args.owner, state_filter))
    return items, articles


def flag_json(item: QueueItem) -> dict[str, Any]:
    f = item.flag
    return {"article_id": f.article_id, "kind": f.kind, "severity": f.severity,
            "reason": f.reason, "evidence": f.evidence, "state": item.state}


def report_command(args: argparse.Namespace, settings: Settings, as_of: date) -> str:
    """The command that writes this report again."""
    parts = ["kb", "flags", "--data-dir", str(settings.data_dir), "--as-of", as_of.isoformat()]
    for option in ("kind", "owner"):
        if getattr(args, option):
            parts += [f"--{option}", getattr(args, option)]
    if args.state != "active":
        parts += ["--state", args.state]
    return " ".join(shlex.quote(p) for p in [*parts, "--report", args.report])


def run_flags(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    as_of = args.as_of or date.today()
    items, articles = queue_for(settings, args, as_of)
    if args.report:
        health = build_health(items, articles, as_of)
        Path(args.report).write_text(render_html(health, report_command(args, settings, as_of)),
                                     encoding="utf-8")
        print(f"wrote {args.report}: {len(items)} flags on {health.flagged} articles")
        return 0
    if args.json:
        print(json.dumps([flag_json(i) for i in items], indent=2, default=str))
        return 0
    sev = {s: sum(i.flag.severity == s for i in items) for s in ("high", "medium", "low")}
    lines = [f"{len(items)} flags as of {as_of.isoformat()} ({sev['high']} high, "
             f"{sev['medium']} medium, {sev['low']} low)"]
    lines += [f"{i.flag.severity:6} {i.flag.kind:23} {i.state:12} {i.flag.article_id}\n"
              f"       {i.flag.reason}" for i in items]
    print_all(lines)
    return 0


def print_all(lines: list[str]) -> None:
    """Print, and stop quietly when the reader (``head``, ``less``) has had enough."""
    try:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def run_review(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    conn, state = open_stores(settings)
    article = catalog.get_article(conn, args.article_id)
    if article is None:
        raise KbError(f"no article {args.article_id!r} in the index (ids are paths like "
                      "'network/vpn-cannot-connect.md')")
    action = ("acknowledge" if args.ack else "dismiss" if args.dismiss else
              "reopen" if args.reopen else "resolve" if args.resolve else
              "reviewed" if args.reviewed else "reassign")
    stores = Stores(conn, state, policy_from_settings(settings))
    result = apply_action(stores, article, action, args.by or getpass.getuser(),
                          args.as_of or date.today(), args.dismiss or args.resolve,
                          args.reassign, kind=args.flag, confirm_products=args.confirm_products)
    print(result.message)
    return 0
