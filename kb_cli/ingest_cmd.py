"""``kb ingest`` and ``kb status``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from core.paths import live_index, state_db
from core.store import catalog
from ingest.run import terminal_progress
from ingest.sources.mirror import kb_roots
from ingest.staging import create_stage
from ingest.update import update_index
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings, make_embedder
from kb_cli.flags_cmd import date_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="read a folder of articles into the index (incremental)")
    p.add_argument("path", nargs="?", default="kb_samples", help="folder of articles")
    add_data_dir(p)
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--strict", action="store_true", help="exit 1 if any file failed")
    p.add_argument("--allow-empty", action="store_true",
                   help="let an empty folder remove every indexed article")
    p.add_argument("--stage", action="store_true",
                   help="build a staging index beside the live one (see kb eval --stage, promote)")
    p.add_argument("--as-of", type=date_arg,
                   help="reference date for quality flags (default today)")
    p.set_defaults(handler=run_ingest)
    s = sub.add_parser("status", help="what is indexed")
    add_data_dir(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=run_status)


def run_ingest(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    index = create_stage(settings.data_dir) if args.stage else live_index(settings.data_dir)
    progress = None if args.json else terminal_progress("ingest")
    roots = kb_roots(settings.data_dir, [Path(args.path)])  # with any synced sources
    result = update_index(index, state_db(settings.data_dir), roots,
                          make_embedder(settings), settings, args.as_of or date.today(),
                          args.allow_empty, progress)
    report, flags = result.report, result.flags
    if args.json:
        print(json.dumps({**report.as_json(), "flags": flags.counts()}, indent=2))
    else:
        print(f"{report.articles} articles, {report.chunks} chunks: {report.added} added, "
              f"{report.updated} updated, {report.unchanged} unchanged, {report.removed} removed; "
              f"{report.embedded_chunks} chunks embedded in {report.seconds:.1f}s")
        for failure in report.failed:
            print(f"  skipped {failure.path}: {failure.error}", file=sys.stderr)
        print(f"{len(flags.flags)} quality flags in {flags.seconds:.1f}s "
              f"({flags.reconciled.opened} new, {flags.reconciled.reopened} reopened, "
              f"{flags.reconciled.fixed} fixed): see 'kb flags'")
    if args.stage and not args.json:
        print(f"staging index {index.root.name} built; next: kb eval DATASET --stage, kb promote")
    if report.failed and (args.strict or report.articles == 0):
        return 1
    return 0


def run_status(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    index = live_index(settings.data_dir, create=False)
    if not index.catalog.exists():
        print(f"no index in {settings.data_dir}: run 'kb ingest' first", file=sys.stderr)
        return 1
    conn = catalog.connect(index.catalog)
    info = {**catalog.counts(conn), "model": catalog.get_kv(conn, "model"),
            "last_ingest": catalog.get_kv(conn, "last_ingest"),
            "source": catalog.get_kv(conn, "source"), "index": str(index.root)}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:12} {value}")
    return 0
