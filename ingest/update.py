"""One ingest as ``kb ingest`` runs it: the folder into an index, then every flag refreshed.

    result = update_index(live_index(data_dir), state_db(data_dir), Path("kb_samples"),
                          embedder, settings, date.today())
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from core.paths import IndexPaths
from core.settings import Settings
from core.store import catalog
from core.store import state as state_store
from ingest.embed import Embedder
from ingest.quality.policy import policy_from_settings
from ingest.quality.run import FlagRun, refresh_flags
from ingest.run import IngestOptions, IngestReport, Root, ingest_roots
from ingest.vectors import open_collection


@dataclass(frozen=True)
class IndexUpdate:
    index: IndexPaths
    report: IngestReport
    flags: FlagRun


def ingest_options(settings: Settings, allow_empty: bool = False) -> IngestOptions:
    return IngestOptions(chunk_tokens=settings.chunk_tokens,
                         max_file_bytes=int(settings.max_file_mb * 1_000_000),
                         aliases=settings.meta_aliases, allow_empty=allow_empty,
                         file_timeout_s=settings.file_timeout_s,
                         read_memory_mb=settings.read_memory_mb)


def update_index(index: IndexPaths, state_path: Path, root: Path | list[Root],
                 embedder: Embedder, settings: Settings, as_of: date, allow_empty: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> IndexUpdate:
    """Ingest ``root`` (a folder, or the roots of :func:`ingest.sources.mirror.kb_roots`) into
    ``index`` (incremental), then compute, store and reconcile the quality flags of every
    article as of ``as_of``."""
    roots = [("", root)] if isinstance(root, Path) else root
    conn = catalog.connect(index.catalog)
    state = state_store.connect(state_path, settings.database_url)
    try:
        collection = open_collection(index.chroma, settings.chroma_url)
        report = ingest_roots(roots, conn, collection, embedder, index.bm25,
                               ingest_options(settings, allow_empty), progress)
        flags = refresh_flags(conn, collection, state, policy_from_settings(settings), as_of)
    finally:
        state.close()
        conn.close()
    return IndexUpdate(index, report, flags)
