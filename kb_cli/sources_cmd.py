"""``kb sync``, ``kb import`` and ``kb sources``: platforms where the knowledge lives."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings, make_embedder
from kb_cli.flags_cmd import date_arg

EXPORT_TYPES = ("servicenow", "confluence", "zendesk")


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sync", help="bring the sources of kb.toml up to date (incremental)")
    s.add_argument("names", nargs="*", metavar="NAME", help="only these sources (default: all)")
    s.add_argument("--full", action="store_true", help="re-list and re-fetch every record")
    s.add_argument("--json", action="store_true", help="print the report as one JSON object")
    s.add_argument("--as-of", type=date_arg, help="reference date for quality flags")
    add_data_dir(s)
    s.set_defaults(handler=run_sync)
    i = sub.add_parser("import", help="read a platform's export file as source NAME")
    i.add_argument("type", choices=EXPORT_TYPES, help="the platform that wrote the file")
    i.add_argument("file", type=Path, help="ServiceNow XML/JSON, Zendesk JSON, Confluence zip")
    i.add_argument("--source", required=True, metavar="NAME",
                   help="the source's name: its articles get ids NAME:ID")
    i.add_argument("--json", action="store_true")
    i.add_argument("--as-of", type=date_arg, help="reference date for quality flags")
    add_data_dir(i)
    i.set_defaults(handler=run_import)
    st = sub.add_parser("sources", help="each source's last sync, counts, errors and watermark")
    st.add_argument("--json", action="store_true")
    add_data_dir(st)
    st.set_defaults(handler=run_sources)


def _print_run(run: Any, as_json: bool) -> int:
    update = run.update
    if as_json:
        print(json.dumps({"sources": [s.as_json() for s in run.sources],
                          "ingest": update.report.as_json() if update else None,
                          "flags": update.flags.counts() if update else None}, indent=2))
        return 1 if run.failed else 0
    for s in run.sources:
        if s.type == "folder":
            continue
        line = (f"{s.source}: {s.listed} in scope, {s.fetched} fetched"
                f"{' (full)' if s.full else ''}, {s.written} changed, {s.removed} removed; "
                f"watermark {s.watermark or '-'} ({s.seconds:.1f}s)")
        print(line)
        for skipped in s.skipped[:20]:
            print(f"  skipped {skipped}", file=sys.stderr)
        if s.error:
            print(f"  FAILED: {s.error} (nothing removed; the next sync resumes from the last "
                  "watermark)", file=sys.stderr)
    if update:
        r = update.report
        print(f"{r.articles} articles, {r.chunks} chunks: {r.added} added, {r.updated} updated, "
              f"{r.unchanged} unchanged, {r.removed} removed; {r.embedded_chunks} chunks "
              f"embedded in {r.seconds:.1f}s")
        for failure in r.failed:
            print(f"  skipped {failure.path}: {failure.error}", file=sys.stderr)
    return 1 if run.failed else 0


def _line_progress(as_json: bool):  # noqa: ANN202
    def show(message: str) -> None:
        print(message, file=sys.stderr, flush=True)
    return (lambda _m: None) if as_json else show


def run_sync(args: argparse.Namespace) -> int:
    from ingest.run import terminal_progress
    from ingest.sources.sync import sync_sources

    settings = load_settings(args)
    run = sync_sources(settings, make_embedder(settings), args.as_of or date.today(),
                       os.environ, args.names, args.full, _line_progress(args.json),
                       None if args.json else terminal_progress("ingest"))
    return _print_run(run, args.json)


def run_import(args: argparse.Namespace) -> int:
    from ingest.sources.sync import import_file

    settings = load_settings(args)
    run = import_file(settings, make_embedder(settings), args.as_of or date.today(), args.type,
                      args.file, args.source)
    return _print_run(run, args.json)


def run_sources(args: argparse.Namespace) -> int:
    from core.paths import live_index
    from core.store import catalog
    from ingest.sources.config import parse_sources
    from ingest.sources.sync import source_states

    settings = load_settings(args)
    configs = {c.name: c for c in parse_sources(settings.sources)}
    index = live_index(settings.data_dir, create=False)
    states: dict[str, dict[str, Any]] = {}
    if index.catalog.exists():
        conn = catalog.open_readonly(index.catalog)
        try:
            states = source_states(conn)
        finally:
            conn.close()
    rows = [{"source": name, "type": configs[name].type if name in configs else
             states[name].get("type"), "configured": name in configs, **{
                 k: states.get(name, {}).get(k) for k in
                 ("last_attempt", "last_success", "records", "watermark", "error")}}
            for name in [*configs, *[n for n in states if n not in configs]]]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no sources: add [sources.NAME] tables to kb.toml, or kb import")
    for row in rows:
        print(f"{row['source']:16} {row['type'] or '?':10} records {row['records'] or 0:<6} "
              f"last success {row['last_success'] or 'never'}  watermark "
              f"{row['watermark'] or '-'}" + (f"\n  last error: {row['error']}"
                                               if row["error"] else ""))
    return 0
