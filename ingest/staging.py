"""Staging indexes: build beside the live one, promote atomically, roll back.

``DATA_DIR/LIVE`` names the live index, ``STAGE`` the staging one and ``PREVIOUS`` the one
before the last promotion. Promotion needs a passing eval of the staging index recorded in
``STAGE_EVAL.json`` (or ``force``); every switch is appended to ``promotions.jsonl``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from core.errors import KbError
from core.paths import IndexPaths, live_index, read_pointer, write_pointer
from core.store import catalog
from core.store.db import now_iso


def _next_name(data_dir: Path) -> str:
    root = data_dir / "indexes"
    numbers = [int(p.name.split("-")[1]) for p in root.glob("index-*")
               if p.name.split("-")[1].isdigit()] if root.exists() else []
    return f"index-{max(numbers, default=0) + 1}"


def create_stage(data_dir: Path) -> IndexPaths:
    """Copy the live index into a new staging index (so only changes get embedded)."""
    live = live_index(data_dir)
    old = read_pointer(data_dir, "STAGE")
    if old:
        shutil.rmtree(data_dir / "indexes" / old, ignore_errors=True)
    name = _next_name(data_dir)
    stage = IndexPaths(data_dir / "indexes" / name)
    stage.root.mkdir(mode=0o700)
    if live.catalog.exists():
        catalog.copy(live.catalog, stage.catalog)
    if live.chroma.exists():
        shutil.copytree(live.chroma, stage.chroma)
    if live.bm25.exists():
        shutil.copytree(live.bm25, stage.bm25)
    if live.titles.exists():  # so that the staged ingest embeds only new titles
        shutil.copy2(live.titles, stage.titles)
    write_pointer(data_dir, "STAGE", name)
    (data_dir / "STAGE_EVAL.json").unlink(missing_ok=True)
    return stage


def stage_index(data_dir: Path) -> IndexPaths:
    name = read_pointer(data_dir, "STAGE")
    if not name:
        raise KbError("there is no staging index: run 'kb ingest PATH --stage' first")
    return IndexPaths(data_dir / "indexes" / name)


def record_stage_eval(data_dir: Path, result: dict[str, Any]) -> None:
    name = read_pointer(data_dir, "STAGE")
    (data_dir / "STAGE_EVAL.json").write_text(json.dumps({**result, "index": name,
                                                          "at": now_iso()}, indent=2))


def _log(data_dir: Path, entry: dict[str, Any]) -> None:
    with (data_dir / "promotions.jsonl").open("a") as fh:
        fh.write(json.dumps({**entry, "at": now_iso()}) + "\n")


def promote(data_dir: Path, force: bool = False, by: str | None = None) -> str:
    """Make the staging index live if its eval passed the gate (or when forced)."""
    name = read_pointer(data_dir, "STAGE")
    if not name:
        raise KbError("there is no staging index to promote")
    verdict_path = data_dir / "STAGE_EVAL.json"
    verdict = json.loads(verdict_path.read_text()) if verdict_path.exists() else None
    if not force:
        if verdict is None or verdict.get("index") != name:
            raise KbError(f"staging index {name} has not been evaluated: run "
                          "'kb eval DATASET --stage' first (or promote --force)")
        if not verdict.get("passed"):
            raise KbError(f"staging index {name} failed its eval gate: "
                          f"{'; '.join(verdict.get('regressions', [])) or 'see the report'}")
    previous = read_pointer(data_dir, "LIVE")
    if previous:
        write_pointer(data_dir, "PREVIOUS", previous)
    write_pointer(data_dir, "LIVE", name)
    write_pointer(data_dir, "STAGE", None)
    _log(data_dir, {"action": "promote", "from": previous, "to": name, "forced": force,
                    "eval_passed": bool(verdict and verdict.get("passed")), "by": by})
    return name


def rollback(data_dir: Path, by: str | None = None) -> str:
    previous = read_pointer(data_dir, "PREVIOUS")
    if not previous or not (data_dir / "indexes" / previous).exists():
        raise KbError("there is no previous index to roll back to")
    current = read_pointer(data_dir, "LIVE")
    write_pointer(data_dir, "LIVE", previous)
    if current:
        write_pointer(data_dir, "PREVIOUS", current)
    _log(data_dir, {"action": "rollback", "from": current, "to": previous, "by": by})
    return previous
