"""Where the knowledge comes from: ``GET /api/sources`` (admins).

Each configured platform or folder source, and any source filled by ``kb import``, with its last
sync as stored in the catalog: when, how many records, what failed, the watermark. Never the
credentials: a source's table only names the environment variables that hold them, and those
names are not shown either.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from assistant.web.deps import Kb, SourcesUser
from ingest.sources.config import parse_sources
from ingest.sources.sync import source_states

router = APIRouter(prefix="/api", tags=["sources"])


class SourcePublic(BaseModel):
    name: str
    type: str | None
    url: str | None
    configured: bool
    last_attempt: str | None = None
    last_success: str | None = None
    records: int | None = None
    listed: int | None = None
    fetched: int | None = None
    removed: int | None = None
    skipped: int = 0
    watermark: str | None = None
    error: str | None = None


@router.get("/sources", response_model=list[SourcePublic])
def sources(user: SourcesUser, kb: Kb) -> list[dict[str, Any]]:
    """Every source with its last sync (admins)."""
    configs = {c.name: c for c in parse_sources(kb.settings.sources)}
    with kb.live.lock:
        states = source_states(kb.live.current().index.conn)
    rows = []
    for name in [*configs, *sorted(n for n in states if n not in configs)]:
        cfg, state = configs.get(name), states.get(name, {})
        rows.append({
            "name": name, "type": cfg.type if cfg else state.get("type"),
            "url": (cfg.url or (str(cfg.path) if cfg.path else None)) if cfg else None,
            "configured": cfg is not None,
            **{k: state.get(k) for k in ("last_attempt", "last_success", "records", "listed",
                                         "fetched", "removed", "watermark", "error")},
            "skipped": len(state.get("skipped") or [])})
    return rows
