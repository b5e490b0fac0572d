"""kb's one settings object, read once at the entry points and passed down as values.

Sources, strongest first: command-line options (applied by the CLI), ``KB_*`` environment
variables, then an optional ``kb.toml`` in the current directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KB_", toml_file="kb.toml", extra="ignore")

    data_dir: Path = Path(".kb")
    # the state DB (users, sessions, answers, feedback, flags' states, ...) in Postgres
    # (postgresql://USER:PASSWORD@HOST:PORT/DB) instead of DATA_DIR/state.sqlite; its schema
    # is moved forward by `kb db upgrade` only
    database_url: str | None = None
    model_path: str | None = Field(
        default=None,
        description="Local sentence-transformers model dir; default: the packaged MiniLM"
    )
    chunk_tokens: int = 180
    max_file_mb: float = 20.0
    # seconds one file may take to read and chunk before it is reported as failed (0: no limit)
    file_timeout_s: float = 60.0
    # memory (MB) the reading process may take on top of its size at start: a file whose
    # parsing needs more is reported as failed (MemoryError), not left to the OOM killer (0: no cap)
    read_memory_mb: int = 4096
    embed_batch_size: int = 32
    # "sentence-transformers" (the real model) or "hashing" (deterministic, for tests and demos)
    embedder: str = "sentence-transformers"
    # a Chroma server (``chroma run``), http://HOST:PORT, instead of each index's embedded
    # store; each index dir gets its own collection there (ingest/vectors.py)
    chroma_url: str | None = None
    # metadata key aliases: {"kb_key": ["other.key", ...]} added to the built-in ones
    meta_aliases: dict[str, list[str]] = {}
    stale_days: int = 365
    stale_days_by_category: dict[str, int] = {}
    stale_days_by_product: dict[str, int] = {}
    expiring_days: int = 30
    # a review date shared by at least this share of the articles, and by at least
    # bulk_review_min of them, is a date of record (a bulk change), not a review
    bulk_review_share: float = Field(default=0.01, ge=0.0, le=1.0)
    bulk_review_min: int = Field(default=50, ge=2)
    lifecycle_file: Path | None = None
    # {article type: [section group or "a|b|c" alternatives]}; empty = kb's default
    required_sections: dict[str, list[str]] = {}
    # front-matter keys of other schemas that are not typos (added to kb's own list)
    known_meta_keys: list[str] = []
    wall_of_text_words: int = 250
    min_article_words: int = 50
    max_article_words: int = 5000
    duplicate_similarity: float = 0.90
    duplicate_overlap: float = 0.45
    # retrieval / answers
    abstain_threshold: float | None = None
    # the fitted weights and threshold; default: assistant/calibration.json (shipped)
    calibration_file: Path | None = None
    # related articles need a passage at least this close to the question (cosine)
    related_min_similarity: float = 0.45
    # the next step a "not covered" answer gives, e.g. "Assign to the Service Desk L2 queue";
    # per category (the asker's filter, else the closest related article's) when given
    escalation: str | None = None
    escalation_by_category: dict[str, str] = {}
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: str | None = None
    llm_timeout_s: float = 20.0
    # the longest answer asked of the model (0: no cap)
    llm_max_tokens: int = 512
    secret_key: str | None = None
    # reverse proxies (addresses or networks, e.g. ["10.0.0.0/8"]) whose X-Forwarded-For the
    # web app believes; empty: the socket's peer address is the client's, whatever it claims
    trusted_proxies: list[str] = []
    # platform and folder sources for kb sync: {NAME: {type, url, ...}} ([sources.NAME] tables
    # of kb.toml, or KB_SOURCES as JSON); checked by ingest/sources/config.py
    sources: dict[str, dict[str, Any]] = {}

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
