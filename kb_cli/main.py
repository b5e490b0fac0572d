"""The ``kb`` command: parses arguments and hands each subcommand to its module."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

from core.errors import KbError

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# numpy's BLAS threads spin after each matrix-vector product and starve torch's threads in the
# query embedding that follows (kb ask 111 ms -> 37 ms p50 with one BLAS thread)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    from kb_cli import commands

    parser = argparse.ArgumentParser(prog="kb", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for reports' command line
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except KbError as exc:
        print(f"kb {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the index is unchanged past the last completed batch", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
