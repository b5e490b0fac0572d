"""Registers every subcommand; each lives in its own small module."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from kb_cli import ingest_cmd

    for module in (ingest_cmd,):
        module.register(sub)


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="where kb keeps its index (default: KB_DATA_DIR or .kb)")
