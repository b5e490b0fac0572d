"""The ``kb`` command: parses arguments and hands each subcommand to its module.

Only the module of the command being run is imported, so ``kb ask`` does not pay for the web
app, Chroma or the document loaders; ``kb --help`` imports them all.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable

from core.errors import KbError, out_of_space

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# numpy's BLAS threads spin after each matrix-vector product and starve torch's threads in the
# query embedding that follows (kb ask 111 ms -> 37 ms p50 with one BLAS thread)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

Handler = Callable[[argparse.Namespace], int]


DESCRIPTION = """\
kb answers IT service-desk questions from a folder of knowledge-base articles, citing the
article sections it used, or says that the KB does not cover the question. It also tells
article owners what is wrong with their articles. It runs offline, on this machine."""

EPILOG = """\
a first session:
  kb ingest kb_samples                       read the sample articles into .kb/
  kb ask "How do I reset my VPN password?"   an answer with its sources
  kb users demo; kb serve                    demo users, then the web app on 127.0.0.1:8000

'kb COMMAND --help' lists a command's options. Set-up, settings and every command are
described in README.md."""

#: the module of each command, in the order a user meets them (``kb --help`` lists them so)
COMMAND_MODULES = {
    "ingest": "ingest_cmd", "status": "ingest_cmd",
    "sync": "sources_cmd", "import": "sources_cmd", "sources": "sources_cmd",
    "ask": "ask_cmd", "gaps": "ask_cmd",
    "serve": "serve_cmd",
    "flags": "flags_cmd", "review": "flags_cmd",
    "eval": "eval_cmd", "promote": "eval_cmd", "rollback": "eval_cmd",
    "calibrate": "calibrate_cmd",
    "users": "users_cmd",
    "backup": "backup_cmd", "restore": "backup_cmd",
    "db": "db_cmd",
    "tickets": "tickets_cmd", "coverage": "tickets_cmd",
    "route": "route_cmd", "eval-routing": "route_cmd",
}

#: the commands that write the index or its pointers: one at a time per data dir
WRITERS = frozenset({"ingest", "sync", "import", "promote", "rollback", "calibrate",
                     "restore"})


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse sizes the name column without the commands' own indentation, so a long
    command name (``eval-routing``) pushed its help to the next line; this counts it."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        subactions: list[argparse.Action] = getattr(action, "_get_subactions", list)()
        if subactions and action.help is not argparse.SUPPRESS:
            longest = max(len(self._format_action_invocation(s)) for s in subactions)
            self._action_max_length = max(self._action_max_length, longest
                                          + self._current_indent + self._indent_increment)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or with only ``command``'s module when it is known."""
    parser = argparse.ArgumentParser(prog="kb", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=_HelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands")
    wanted = COMMAND_MODULES.get(command or "")
    for name in dict.fromkeys(COMMAND_MODULES.values()):
        if wanted in (None, name):
            importlib.import_module(f"kb_cli.{name}").register(sub)
    return parser


def command_of(argv: list[str]) -> str | None:
    """The command named on the command line: the first word that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_of(argv))
    args = parser.parse_args(argv)
    args.argv = argv  # for reports' command line
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command in WRITERS:
            from core.writer_lock import writer_lock
            from kb_cli.context import load_settings

            with writer_lock(load_settings(args).data_dir, args.command):
                return int(args.handler(args) or 0)
        return int(args.handler(args) or 0)
    except KbError as exc:
        print(f"kb {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not out_of_space(exc):
            raise
        print(f"kb {args.command}: the disk is full ({type(exc).__name__}: {exc}); free space, "
              "then run it again: what was stored before is kept, and the next ingest "
              "repairs what this one left", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the index is unchanged past the last completed batch", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
