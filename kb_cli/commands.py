"""What every subcommand shares (each lives in its own small module; kb_cli/main.py lists
them)."""

from __future__ import annotations

import argparse


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="where kb keeps its index (default: KB_DATA_DIR or .kb)")
