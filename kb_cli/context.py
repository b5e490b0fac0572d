"""Opening kb's heavy things once, at the entry point: settings, catalog, Chroma, model."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.paths import state_db
from core.settings import Settings
from core.store import state as state_store
from core.store.db import Connection


def load_settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "data_dir", None):
        settings = settings.model_copy(update={"data_dir": Path(args.data_dir)})
    return settings


def open_state(settings: Settings) -> Connection:
    """The state DB the settings name: Postgres (``KB_DATABASE_URL``) or ``state.sqlite``."""
    return state_store.connect(state_db(settings.data_dir), settings.database_url)


def make_embedder(settings: Settings):  # noqa: ANN201 - heavy import kept lazy
    from ingest.embed import HashingEmbedder, LazyEmbedder

    if settings.embedder == "hashing":
        return HashingEmbedder()
    return LazyEmbedder(settings.model_path, settings.embed_batch_size)


def make_llm(settings: Settings):  # noqa: ANN201
    """The optional LLM answerer, when KB_LLM_BASE_URL is set; None otherwise."""
    if not settings.llm_base_url:
        return None
    from assistant.llm import make_chat_model

    return make_chat_model(settings.llm_base_url, settings.llm_model, settings.llm_api_key,
                           settings.llm_timeout_s, settings.llm_max_tokens or None)
