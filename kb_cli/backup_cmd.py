"""``kb backup`` and ``kb restore``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ingest.backup import backup, restore
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("backup", help="copy the live index, state DB and secret key (server "
                                      "may run)")
    b.add_argument("dest", type=Path, help="a new or empty folder")
    add_data_dir(b)
    b.set_defaults(handler=run_backup)
    r = sub.add_parser("restore", help="make the data dir a copy of a backup")
    r.add_argument("src", type=Path, help="a folder written by kb backup")
    add_data_dir(r)
    r.add_argument("--force", action="store_true",
                   help="replace a non-empty data dir (its old content is kept beside it)")
    r.set_defaults(handler=run_restore)


def run_backup(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    info = backup(settings.data_dir, args.dest, settings.database_url)
    print(f"backed up {info['index']} ({info['articles']} articles, {info['chunks']} chunks"
          f"{', state DB' if info['state'] else ''}{', secret key' if info['secret_key'] else ''})"
          f" to {args.dest}")
    if "state_database" in info:
        print(f"the state DB is in Postgres ({info['state_database']['url']}), not in the "
              f"backup: dump it with {info['state_database']['backup']}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    info = restore(args.src, settings.data_dir, args.force)
    print(f"restored {info['index']} ({info['articles']} articles, backed up "
          f"{info['created']}) into {settings.data_dir}")
    if info["replaced"]:
        print(f"the previous content is in {info['replaced']}")
    if "state_database" in info:
        print(f"the state DB was in Postgres ({info['state_database']['url']}), not in the "
              f"backup: restore its dump with {info['state_database']['restore']}")
    return 0
