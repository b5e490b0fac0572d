"""``kb db upgrade``: bring the state DB's schema up to this kb's."""

from __future__ import annotations

import argparse

from core.paths import state_db
from core.store import state as state_store
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="the state DB: 'kb db upgrade' applies its migrations")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("upgrade", help="apply the missing migrations (KB_DATABASE_URL's "
                                            "Postgres, else DATA_DIR/state.sqlite)")
    add_data_dir(up)
    up.set_defaults(handler=run_upgrade)


def run_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    url = settings.database_url
    before, after = state_store.upgrade(state_db(settings.data_dir), url)
    where = _where(url) if url else str(state_db(settings.data_dir))
    if before == after:
        print(f"{where}: schema {after}, up to date")
    else:
        print(f"{where}: schema {before} -> {after}")
    return 0


def _where(url: str) -> str:
    from core.store.pg import masked

    return masked(url)
