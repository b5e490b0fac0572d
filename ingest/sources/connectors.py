"""The connector of a source's platform, built with its client (one place knows the list)."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx

from core.errors import KbError
from ingest.sources.config import PLATFORMS, SourceConfig
from ingest.sources.http import PlatformClient, auth_from_env
from ingest.sources.record import Connector, SourceRecord


def _module(platform: str, part: str = ""):  # noqa: ANN202 - a platform module
    """``ingest.sources.{platform}{part}``: the API module (``part=""``: servicenow,
    confluence, zendesk) or its export-file reader (``part="_export"``)."""
    if platform not in PLATFORMS:
        raise KbError(f"unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")
    return importlib.import_module(f"ingest.sources.{platform}{part}")


def open_client(cfg: SourceConfig, environ: Mapping[str, str],
                transport: httpx.BaseTransport | None = None,
                sleep: Callable[[float], None] = time.sleep) -> PlatformClient:
    auth, headers = auth_from_env(cfg.name, environ, cfg.username_env, cfg.password_env,
                                  cfg.token_env)
    return PlatformClient(cfg.name, cfg.url or "", auth, {"Accept": "application/json",
                                                          **headers},
                          sleep=sleep, transport=transport)


def make_connector(cfg: SourceConfig, client: PlatformClient) -> Connector:
    connector: Connector = _module(cfg.type).connector(cfg, client)
    return connector


def read_export(platform: str, path: Path, cfg: SourceConfig) -> Iterator[SourceRecord]:
    """Records of a platform's export file (``kb import``), read by
    ``ingest.sources.{platform}_export``."""
    records: Iterator[SourceRecord] = _module(platform, "_export").read_export(path, cfg)
    return records
