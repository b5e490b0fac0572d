"""What the CLI and the web app share to answer a question: open once, ask many times.

``open_assistant`` builds the heavy things (catalog, Chroma, search index, model) once;
``ask`` composes retrieve -> answer -> gap recording in a few lines.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from assistant.answer import extractive_answer
from assistant.gaps import record_gap
from assistant.index import SearchIndex, load_index
from assistant.retrieve import DEFAULT_THRESHOLD, RetrievalParams, retrieve
from assistant.types import Answer, Retrieval, Viewer
from ingest import catalog
from ingest.embed import Embedder
from ingest.errors import KbError
from ingest.paths import IndexPaths, live_index, state_db
from ingest.vectors import open_collection


@dataclass
class Assistant:
    data_dir: Path
    index: SearchIndex
    embedder: Embedder
    state: sqlite3.Connection
    threshold: float
    stale_days: int
    llm: Any = None

    def stale_check(self, as_of: date):  # noqa: ANN201
        def check(article_id: str) -> tuple[bool, str | None]:
            facts = self.index.articles[self.index.article_row[article_id]]
            if facts.last_reviewed is None:
                return True, "no review date"
            age = (as_of - facts.last_reviewed).days
            if age > self.stale_days:
                return True, f"last reviewed {facts.last_reviewed.isoformat()}, {age} days ago"
            return False, None

        return check


def open_index(paths: IndexPaths) -> SearchIndex:
    if not paths.catalog.exists():
        raise KbError(f"no index at {paths.root}: run 'kb ingest' first")
    conn = catalog.connect(paths.catalog)
    return load_index(paths, conn, open_collection(paths.chroma))


def open_assistant(data_dir: Path, embedder: Embedder, threshold: float | None = None,
                   stale_days: int = 365, llm: Any = None) -> Assistant:
    paths = live_index(data_dir, create=False)
    index = open_index(paths)
    state = catalog.connect(state_db(data_dir))
    return Assistant(data_dir, index, embedder, state,
                     DEFAULT_THRESHOLD if threshold is None else threshold, stale_days, llm)


def run_retrieval(assistant: Assistant, question: str, viewer: Viewer, as_of: date,
                  k: int = 5, params: RetrievalParams | None = None) -> Retrieval:
    return retrieve(assistant.index, assistant.embedder, question, viewer, as_of, k, params,
                    assistant.stale_check(as_of))


def ask(assistant: Assistant, question: str, viewer: Viewer, as_of: date, k: int = 5,
        asked_by: str | None = None, record: bool = True) -> Answer:
    """Retrieve, answer (LLM if configured, else extractive), record a gap if not covered."""
    question = question.strip()
    if not question:
        raise KbError("the question is empty")
    retrieval = run_retrieval(assistant, question, viewer, as_of, k)
    answer = extractive_answer(retrieval, assistant.index.conn, assistant.threshold)
    if answer.answered and assistant.llm is not None:
        from assistant.llm import llm_answer

        answer = llm_answer(assistant.llm, retrieval, answer)
    if not answer.answered and record:
        record_gap(assistant.state, question, "not_covered", asked_by, answer.confidence)
    return answer
