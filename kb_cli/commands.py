"""Registers every subcommand; each lives in its own small module."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from kb_cli import ask_cmd, eval_cmd, flags_cmd, ingest_cmd, serve_cmd, users_cmd

    for module in (ingest_cmd, ask_cmd, eval_cmd, flags_cmd, serve_cmd, users_cmd):
        module.register(sub)


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="where kb keeps its index (default: KB_DATA_DIR or .kb)")
