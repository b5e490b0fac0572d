"""A platform source's articles as files in the data dir, so the folder ingest reads them.

``DATA_DIR/sources/NAME/records/`` holds one ``ID.html`` per record (its body) and an
``ID.meta.yaml`` sidecar with kb's metadata (``id: NAME:ID``, status, groups, ...). Files are
written atomically (temporary file, then rename) and only when their content changed, so an
unchanged record keeps its hash and is never re-chunked or re-embedded. The mirror is part of
the KB of its data dir: ``kb ingest FOLDER`` and ``kb sync`` both read every mirror present.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

import yaml

from core.paths import private_dir
from ingest.run import Root
from ingest.sources.record import SourceRecord

SAFE = re.compile(r"[^A-Za-z0-9._-]")


def sources_dir(data_dir: Path) -> Path:
    return data_dir / "sources"


def mirror_dir(data_dir: Path, name: str) -> Path:
    return sources_dir(data_dir) / name / "records"


def record_stem(record_id: str) -> str:
    """A file name for a platform id: the id itself when it is a safe name, else a readable
    part plus a hash (two ids never share a file)."""
    safe = SAFE.sub("_", record_id)[:80]
    if safe == record_id and not record_id.startswith("."):
        return record_id
    return f"{safe.lstrip('.')}-{hashlib.sha256(record_id.encode()).hexdigest()[:10]}"


def _page(record: SourceRecord) -> str:
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(record.title)}</title></head>\n<body>\n{record.body_html}\n"
            "</body></html>\n")


def _sidecar(prefix: str, record: SourceRecord) -> str:
    meta = {"id": prefix + record.id, "title": record.title, "status": record.status,
            "groups": list(record.groups), "owner": record.owner, "category": record.category,
            "tags": list(record.tags), "url": record.url, "last_reviewed": record.last_reviewed,
            "valid_until": record.valid_until, "products": list(record.products),
            "source_updated": record.updated}
    kept = {k: v for k, v in meta.items() if v not in (None, []) or k == "groups"}
    return yaml.safe_dump(kept, allow_unicode=True, sort_keys=False)


def _write_if_changed(path: Path, text: str) -> bool:
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return True


def write_record(folder: Path, prefix: str, record: SourceRecord) -> bool:
    """Mirror one record; True when its files changed. The sidecar is written first: a run
    killed between the two leaves a new sidecar beside an old body, which the next sync (same
    watermark) rewrites."""
    private_dir(folder)
    stem = record_stem(record.id)
    side = _write_if_changed(folder / f"{stem}.meta.yaml", _sidecar(prefix, record))
    body = _write_if_changed(folder / f"{stem}.html", _page(record))
    return side or body


def _stems(folder: Path) -> tuple[set[str], set[str]]:
    if not folder.is_dir():
        return set(), set()
    return ({p.name[:-len(".meta.yaml")] for p in folder.glob("*.meta.yaml")},
            {p.name[:-len(".html")] for p in folder.glob("*.html")})


def mirrored_stems(folder: Path) -> set[str]:
    """The records whose two files are both there (a lost half is fetched again)."""
    sides, pages = _stems(folder)
    return sides & pages


def remove_missing(folder: Path, keep_ids: Iterable[str]) -> int:
    """Delete the records whose id is not in ``keep_ids`` (and any half of one); returns how
    many records went."""
    keep = {record_stem(i) for i in keep_ids}
    sides, pages = _stems(folder)
    gone = (sides | pages) - keep
    for stem in gone:
        (folder / f"{stem}.html").unlink(missing_ok=True)
        (folder / f"{stem}.meta.yaml").unlink(missing_ok=True)
    return len(gone)


def read_identity(data_dir: Path, name: str) -> dict[str, str] | None:
    try:
        return json.loads((sources_dir(data_dir) / name / "source.json").read_text())
    except (OSError, ValueError):
        return None


def claim(data_dir: Path, name: str, identity: dict[str, str]) -> bool:
    """Make the mirror of ``name`` belong to ``identity`` (type and url). A mirror made for
    another platform or address is emptied first; returns True when it was (a full sync
    follows)."""
    root = sources_dir(data_dir) / name
    current = read_identity(data_dir, name)
    if current == identity:
        return False
    if (root / "records").exists():
        shutil.rmtree(root / "records")
    private_dir(root)
    (root / "source.json").write_text(json.dumps(identity, sort_keys=True))
    return current is not None


def mirror_names(data_dir: Path) -> list[str]:
    folder = sources_dir(data_dir)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "records").is_dir())


def kb_roots(data_dir: Path, folders: Iterable[Path]) -> list[Root]:
    """What a data dir's KB is read from: the given folders (their articles keep their own
    ids) and every platform mirror present (ids ``NAME:ID``)."""
    roots: list[Root] = [("", Path(f)) for f in folders]
    roots += [(f"{name}:", mirror_dir(data_dir, name)) for name in mirror_names(data_dir)]
    return roots
