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

from core.errors import KbError
from core.paths import live_index, state_db
from core.settings import Settings
from core.store import catalog
from core.store.flag_states import ACTIVE, STATES, change_state, load_states, mark_reviewed
from ingest.metadata import parse_date
from ingest.quality.policy import KINDS, policy_from_settings
from ingest.quality.queue import ArticleSignals, QueueItem, build_queue
from ingest.quality.report import build_health, render_html
from ingest.quality.run import FlagRun, apply_reviewed, current_flags, refresh_flags
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings

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
    p.add_argument("--kind", choices=KINDS, help="only this kind of flag")
    p.add_argument("--owner", help="only articles of this owner ('none' for no owner)")
    p.add_argument("--state", choices=STATE_CHOICES, default="active",
                   help="open, acknowledged, fixed, dismissed; active = open + acknowledged "
                        "(default); all")
    p.add_argument("--json", action="store_true", help="print a JSON list of flags")
    p.add_argument("--report", metavar="FILE.html", help="write the KB health report here")
    p.set_defaults(handler=run_flags)
    r = sub.add_parser("review", help="acknowledge or dismiss an article's flags, or mark it "
                                      "reviewed")
    r.add_argument("article_id")
    action = r.add_mutually_exclusive_group(required=True)
    action.add_argument("--ack", action="store_true", help="acknowledge its open flags")
    action.add_argument("--dismiss", metavar="REASON", help="dismiss its flags, saying why")
    action.add_argument("--reviewed", action="store_true",
                        help="mark it reviewed today (or --as-of): closes staleness")
    r.add_argument("--flag", metavar="KIND", choices=KINDS, help="only flags of this kind")
    r.add_argument("--by", help="who is acting (default: the login name)")
    r.add_argument("--as-of", type=date_arg, help="the date to use (default today)")
    add_data_dir(r)
    r.set_defaults(handler=run_review)


def open_stores(settings: Settings) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    index = live_index(settings.data_dir, create=False)
    if not index.catalog.exists():
        raise KbError(f"no index in {settings.data_dir}: run 'kb ingest' first")
    return catalog.connect(index.catalog), catalog.connect(state_db(settings.data_dir))


def update_flags(settings: Settings, conn: sqlite3.Connection, collection: Any,
                 as_of: date) -> FlagRun:
    """After ``kb ingest``: compute, store and reconcile every flag."""
    state = catalog.connect(state_db(settings.data_dir))
    try:
        return refresh_flags(conn, collection, state, policy_from_settings(settings), as_of)
    finally:
        state.close()


def usage_signals(state: sqlite3.Connection) -> dict[str, ArticleSignals]:
    """Citations and negative feedback from the answer log, when there is one."""
    try:
        from assistant.usage import article_signals

        found = article_signals(state)
    except (ImportError, sqlite3.OperationalError):
        return {}
    return {aid: ArticleSignals(s.cited, s.not_helpful + s.reports) for aid, s in found.items()}


def queue_for(settings: Settings, args: argparse.Namespace, as_of: date
              ) -> tuple[list[QueueItem], list[Any]]:
    conn, state = open_stores(settings)
    articles = list(catalog.iter_articles(conn))
    flags = current_flags(conn, policy_from_settings(settings), as_of, articles)
    items = build_queue(flags, load_states(state), {a.id: a for a in articles},
                        usage_signals(state), include_fixed=args.state != "active")
    wanted = ACTIVE if args.state == "active" else STATES if args.state == "all" else (args.state,)
    owner = (args.owner or "").lower()
    items = [i for i in items if i.state in wanted
             and (not args.kind or i.flag.kind == args.kind)
             and (not owner or (i.owner or "none").lower() == owner)]
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
    as_of = args.as_of or date.today()
    by = args.by or getpass.getuser()
    conn, state = open_stores(settings)
    article = catalog.get_article(conn, args.article_id)
    if article is None:
        raise KbError(f"no article {args.article_id!r} in the index (ids are paths like "
                      "'network/vpn-cannot-connect.md')")
    flags = [f for f in current_flags(conn, policy_from_settings(settings), as_of, [article])
             if f.article_id == article.id and (not args.flag or f.kind == args.flag)]
    if args.reviewed:
        mark_reviewed(state, article.id, as_of, by, article.content_hash)
        apply_reviewed(conn, {article.id: as_of})
        stale = [f for f in flags if f.kind == "stale"]
        change_state(state, stale, "fixed", by, f"marked reviewed on {as_of.isoformat()}",
                     article.content_hash)
        print(f"{article.id}: marked reviewed on {as_of.isoformat()} by {by}"
              + (f"; {len(stale)} stale flag fixed" if stale else ""))
        return 0
    if not flags:
        what = f"{args.flag} flags" if args.flag else "flags"
        raise KbError(f"{article.id} has no current {what} as of {as_of.isoformat()}")
    to, note = ("acknowledged", None) if args.ack else ("dismissed", args.dismiss)
    changed = change_state(state, flags, to, by, note, article.content_hash)
    for flag, before in changed:
        print(f"{article.id}: {flag.kind} ({flag.evidence.get('key', '')}) "
              f"{before or 'open'} -> {to}")
    if not changed:
        print(f"{article.id}: already {to}")
    return 0
