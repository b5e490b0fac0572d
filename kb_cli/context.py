"""Opening kb's heavy things once, at the entry point: settings, catalog, Chroma, model."""

from __future__ import annotations

import argparse
from pathlib import Path

from ingest.settings import Settings


def load_settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "data_dir", None):
        settings = settings.model_copy(update={"data_dir": Path(args.data_dir)})
    return settings


def make_embedder(settings: Settings):  # noqa: ANN201 - heavy import kept lazy
    from ingest.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings.model_path, settings.embed_batch_size)
