"""``kb sync`` and ``kb import``: platform records into their mirrors, then one ingest.

For each platform source: list the ids in scope (cheap), fetch the records changed since the
source's watermark (all of them on the first run, with ``--full``, or when listed ids are
missing from the mirror), write them to the mirror, and delete mirrored records that are no
longer listed. Then the folder ingest reads every root, re-chunking and embedding only what
changed, and each source's new watermark (the newest ``updated`` fetched) is stored in the
catalog. A source that fails removes nothing and keeps its previous watermark; the records it
fetched before failing are kept (they are newer), and the next run fetches again from the old
watermark, so it resumes. Other sources go on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from core.errors import KbError
from core.paths import live_index, state_db
from core.settings import Settings
from core.store import catalog
from core.store.db import now_iso
from ingest.embed import Embedder
from ingest.run import stored_roots
from ingest.sources import mirror
from ingest.sources.config import NAME, SourceConfig, parse_sources
from ingest.sources.connectors import make_connector, open_client, read_export
from ingest.sources.record import RECORD_STATUSES, Connector, Progress, SourceRecord
from ingest.update import IndexUpdate, update_index

log = logging.getLogger(__name__)
STATE_PREFIX = "source:"


@dataclass
class SourceSync:
    """What one source's sync (or import) did."""

    source: str
    type: str
    listed: int = 0
    fetched: int = 0
    written: int = 0
    removed: int = 0
    skipped: list[str] = field(default_factory=list)
    #: ids fetched but not mirrored (no title, empty body): not "missing" on the next run
    skipped_ids: list[str] = field(default_factory=list)
    full: bool = False
    watermark: str | None = None
    error: str | None = None
    seconds: float = 0.0
    requests: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SyncRun:
    sources: list[SourceSync]
    update: IndexUpdate | None

    @property
    def failed(self) -> bool:
        return any(s.error for s in self.sources)


def load_state(conn: Any, name: str) -> dict[str, Any]:
    raw = catalog.get_kv(conn, STATE_PREFIX + name)
    return json.loads(raw) if raw else {}


def source_states(conn: Any) -> dict[str, dict[str, Any]]:
    """Every source's last sync as stored in the catalog, by name (the web's sources page)."""
    return {key[len(STATE_PREFIX):]: json.loads(value)
            for key, value in catalog.kv_items(conn, STATE_PREFIX).items()}


def _checked(record: SourceRecord, name: str) -> str | None:
    """Why a mapped record cannot be mirrored, or None."""
    if not record.id or not record.title.strip():
        return f"{name}:{record.id or '?'}: no id or title"
    if not record.body_html.strip():
        return f"{name}:{record.id}: empty body"
    if record.status not in RECORD_STATUSES:
        return f"{name}:{record.id}: unknown status {record.status!r}"
    return None


def fetch_source(cfg: SourceConfig, data_dir: Path, previous: dict[str, Any],
                 environ: Mapping[str, str], full: bool, progress: Progress,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> SourceSync:
    """Bring one platform source's mirror up to date; errors are recorded, not raised."""
    started = time.monotonic()
    result = SourceSync(cfg.name, cfg.type, watermark=previous.get("watermark"))
    folder = mirror.mirror_dir(data_dir, cfg.name)
    client = None
    try:
        reset = mirror.claim(data_dir, cfg.name, {"type": cfg.type, "url": cfg.url or ""})
        client = open_client(cfg, environ, transport, sleep)
        connector = make_connector(cfg, client)
        ids = connector.list_ids(progress)
        result.listed = len(ids)
        result.full = full or reset or not result.watermark
        newest = _fetch(connector, None if result.full else result.watermark, ids, cfg, folder,
                        result, progress)
        skipped = set(result.skipped_ids) | set(previous.get("skipped_ids", []))
        missing = {mirror.record_stem(i) for i in ids - skipped} - mirror.mirrored_stems(folder)
        if missing and not result.full:  # a mirror file lost, or a change the platform hid
            log.info("source %s: %d listed records are not mirrored; fetching all",
                     cfg.name, len(missing))
            result.full = True
            newest = max(filter(None, (newest, _fetch(connector, None, ids, cfg, folder,
                                                      result, progress))), default=None)
        result.removed = mirror.remove_missing(folder, ids)
        result.watermark = newest or result.watermark
    except KbError as exc:  # SourceError included: nothing removed, watermark kept
        result.error = str(exc)
        result.watermark = previous.get("watermark")
    finally:
        if client is not None:
            result.requests = client.requests
            client.close()
        result.seconds = round(time.monotonic() - started, 2)
    return result


def _fetch(connector: Connector, since: str | None, ids: set[str], cfg: SourceConfig,
           folder: Path, result: SourceSync, progress: Progress) -> str | None:
    """Mirror the records changed since ``since``; returns the newest ``updated`` seen."""
    newest: str | None = since
    for record in connector.changed(since, progress):
        result.fetched += 1
        problem = _checked(record, cfg.name)
        if problem or record.id not in ids:
            result.skipped.append(problem or f"{cfg.name}:{record.id}: not listed in scope")
            result.skipped_ids.append(record.id)
            continue
        result.written += mirror.write_record(folder, cfg.prefix, record)
        newest = max(newest or record.updated, record.updated)
    return newest


def _selected(configs: list[SourceConfig], names: Iterable[str]) -> list[SourceConfig]:
    wanted = list(names)
    known = {c.name for c in configs}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise KbError(f"no source named {', '.join(unknown)} in kb.toml "
                      f"(configured: {', '.join(sorted(known)) or 'none'})")
    return [c for c in configs if not wanted or c.name in wanted]


def _folders(configs: list[SourceConfig], conn: Any) -> list[Path]:
    """The folder sources; with none configured, the folders the index was built from (so a
    sync never drops what ``kb ingest FOLDER`` put in)."""
    folders = [c.path for c in configs if c.type == "folder" and c.path is not None]
    return folders or [root for prefix, root in stored_roots(conn) if prefix == ""]


def _save_states(conn: Any, results: list[SourceSync], update: IndexUpdate | None) -> None:
    by_prefix = update.report.by_prefix if update else {}
    with catalog.transaction(conn):
        for result in results:
            state = {**result.as_json(), "last_attempt": now_iso()}
            counts: Mapping[str, int] = by_prefix.get(f"{result.source}:", {})
            state["ingest"] = dict(counts)
            state["records"] = sum(counts.get(k, 0) for k in ("added", "updated", "unchanged"))
            previous = load_state(conn, result.source)
            state["last_success"] = previous.get("last_success") if result.error else now_iso()
            catalog.set_kv(conn, STATE_PREFIX + result.source, json.dumps(state))


def ingest_sources(data_dir: Path, configs: list[SourceConfig], embedder: Embedder,
                   settings: Settings, as_of: date, results: list[SourceSync],
                   progress: Callable[[int, int], None] | None = None) -> IndexUpdate | None:
    """One ingest over every root of the data dir, then each source's state stored (None:
    nothing to read yet, e.g. the first sync of the only source failed)."""
    index = live_index(data_dir)
    conn = catalog.connect(index.catalog)
    try:
        folders = _folders(configs, conn)
    finally:
        conn.close()
    roots = mirror.kb_roots(data_dir, folders)
    update = None
    if roots:
        update = update_index(index, state_db(data_dir), roots, embedder, settings, as_of,
                              allow_empty=True, progress=progress)
    conn = catalog.connect(index.catalog)
    try:
        _save_states(conn, results, update)
    finally:
        conn.close()
    return update


def sync_sources(settings: Settings, embedder: Embedder, as_of: date,
                 environ: Mapping[str, str], names: Iterable[str] = (), full: bool = False,
                 progress: Progress = log.info,
                 ingest_progress: Callable[[int, int], None] | None = None,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> SyncRun:
    """``kb sync``: every configured source (or the named ones), then one ingest."""
    configs = parse_sources(settings.sources)
    if not configs:
        raise KbError("no sources configured: add [sources.NAME] tables to kb.toml "
                      "(see README, 'Sources')")
    chosen = _selected(configs, names)
    conn = catalog.connect(live_index(settings.data_dir).catalog)
    try:
        previous = {c.name: load_state(conn, c.name) for c in chosen}
    finally:
        conn.close()
    results = [fetch_source(c, settings.data_dir, previous[c.name], environ, full, progress,
                            transport, sleep)
               for c in chosen if c.type != "folder"]
    results += [SourceSync(c.name, c.type) for c in chosen if c.type == "folder"]
    update = ingest_sources(settings.data_dir, configs, embedder, settings, as_of, results,
                            ingest_progress)
    return SyncRun(results, update)


def import_file(settings: Settings, embedder: Embedder, as_of: date, platform: str,
                path: Path, name: str) -> SyncRun:
    """``kb import``: an export file is the source's whole content (records it does not hold
    are removed from the mirror), then one ingest."""
    configs = parse_sources(settings.sources)
    cfg = next((c for c in configs if c.name == name), None)
    if cfg is not None and cfg.type != platform:
        raise KbError(f"source {name} is a {cfg.type} source in kb.toml, not {platform}")
    cfg = cfg or SourceConfig(name, platform, url="")
    if not NAME.match(name):
        raise KbError(f"--source {name!r}: a name is 1-40 of a-z, 0-9, '-', '_'")
    if not path.is_file():
        raise KbError(f"{path}: no such file")
    started = time.monotonic()
    result = SourceSync(name, platform, full=True)
    records = list(read_export(platform, path, cfg))  # a bad file fails before any write
    if not records:
        raise KbError(f"{path}: no {platform} articles found in this file")
    mirror.claim(settings.data_dir, name, {"type": platform, "url": cfg.url or ""})
    folder = mirror.mirror_dir(settings.data_dir, name)
    kept: set[str] = set()
    for record in records:
        result.fetched += 1
        problem = _checked(record, name)
        if problem:
            result.skipped.append(problem)
            continue
        kept.add(record.id)
        result.written += mirror.write_record(folder, cfg.prefix, record)
        result.watermark = max(result.watermark or record.updated, record.updated)
    result.listed = len(kept)
    result.removed = mirror.remove_missing(folder, kept)
    result.seconds = round(time.monotonic() - started, 2)
    update = ingest_sources(settings.data_dir, configs, embedder, settings, as_of, [result])
    return SyncRun([result], update)
