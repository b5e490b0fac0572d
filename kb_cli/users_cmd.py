"""``kb users add|list|password|remove|token|revoke|demo``: who may use the web app, and as
what."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from assistant import users
from core.errors import KbError
from core.paths import live_index
from core.store import catalog
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings, open_state


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="who may use the web app: add, list, password, remove, "
                                     "token, revoke, demo")
    actions = p.add_subparsers(dest="users_action", required=True)
    add = actions.add_parser("add", help="create a user (password prompted, or generated)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=users.ROLES)
    add.add_argument("--groups", default="", help="comma-separated permission groups")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of prompting")
    add.set_defaults(handler=run_add)
    ls = actions.add_parser("list", help="users with role, groups and API tokens")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)
    pw = actions.add_parser("password", help="set a new password (prompted, or generated) and "
                                             "sign the user out")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true",
                    help="read the password from standard input instead of prompting")
    pw.set_defaults(handler=run_password)
    rm = actions.add_parser("remove", help="delete a user, their sessions and tokens")
    rm.add_argument("name")
    rm.set_defaults(handler=run_remove)
    tok = actions.add_parser("token", help="print a new long-lived API bearer token")
    tok.add_argument("name")
    tok.set_defaults(handler=run_token)
    rev = actions.add_parser("revoke", help="revoke every API token and session of a user")
    rev.add_argument("name")
    rev.set_defaults(handler=run_revoke)
    demo = actions.add_parser("demo", help="create demo-agent, demo-owner, demo-admin if absent")
    demo.set_defaults(handler=run_demo)
    for parser in (add, ls, pw, rm, tok, rev, demo):
        add_data_dir(parser)


def _state(args: argparse.Namespace):  # noqa: ANN202
    return open_state(load_settings(args))


def _ask_password() -> str | None:
    """Prompt twice on a terminal; empty means 'generate one'. None when not a terminal."""
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("password (empty: generate one): ")
    if not first:
        return None
    if getpass.getpass("again: ") != first:
        raise KbError("the passwords differ")
    return first


def _new_password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password from stdin (--password-stdin), the terminal, or generated; and whether it
    was generated (then the caller prints it, once)."""
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else _ask_password()
    if password is None:
        return users.generate_password(), True
    return password, False


def run_add(args: argparse.Namespace) -> int:
    conn = _state(args)
    password, generated = _new_password(args)
    user = users.add_user(conn, args.name, args.role, users.parse_groups(args.groups), password)
    groups = ",".join(sorted(user.groups)) or "-"
    print(f"added {user.name} ({user.role}; groups {groups})")
    if generated:
        print(f"password: {password}   (shown once)")
    return 0


def run_password(args: argparse.Namespace) -> int:
    conn = _state(args)
    if users.get_user(conn, args.name) is None:  # before prompting for a password
        raise KbError(f"no user {args.name!r}")
    password, generated = _new_password(args)
    ended = users.set_password(conn, args.name, password)
    print(f"new password for {args.name}; {ended} session(s) signed out")
    if generated:
        print(f"password: {password}   (shown once)")
    return 0


def run_list(args: argparse.Namespace) -> int:
    rows = users.list_users(_state(args))
    if args.json:
        print(json.dumps([{"name": u.name, "role": u.role, "groups": sorted(u.groups),
                           "tokens": n} for u, n in rows], indent=2))
        return 0
    if not rows:
        print("no users: 'kb users add NAME --role agent' or 'kb users demo'")
    for user, tokens in rows:
        print(f"{user.name:24} {user.role:6} groups={','.join(sorted(user.groups)) or '-':24} "
              f"tokens={tokens}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    users.remove_user(_state(args), args.name)
    print(f"removed {args.name}")
    return 0


def run_token(args: argparse.Namespace) -> int:
    print(users.issue_token(_state(args), args.name))
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    count = users.revoke_tokens(_state(args), args.name)
    print(f"revoked {count} token(s) and every session of {args.name}")
    return 0


def kb_groups(args: argparse.Namespace) -> frozenset[str]:
    """Every permission group used by the live index's articles (demo owners see them all)."""
    paths = live_index(load_settings(args).data_dir, create=False)
    if not paths.catalog.exists():
        return frozenset()
    return catalog.article_groups(catalog.connect(paths.catalog))


def run_demo(args: argparse.Namespace) -> int:
    created = users.ensure_demo_users(_state(args), kb_groups(args))
    for name, role, password in created:
        print(f"demo user {name} ({role}) password: {password}")
    if not created:
        print("demo users already exist (kb users list)")
    return 0
