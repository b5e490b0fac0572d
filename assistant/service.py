"""What the CLI and the web app share to answer a question: open once, ask many times.

``open_assistant`` builds the heavy things (catalog, Chroma, search index, model) once;
``ask`` composes retrieve -> answer -> gap recording in a few lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from assistant.answer import RELATED_FLOOR, Escalation, extractive_answer
from assistant.calibration import Calibration, load_calibration
from assistant.gaps import record_gap
from assistant.index import LazyCollection, SearchIndex, load_index
from assistant.retrieve import RetrievalParams, confidence, retrieve
from assistant.trust import under_review, with_warnings
from assistant.types import Answer, Retrieval, Viewer
from core.errors import KbError
from core.paths import IndexPaths, live_index, state_db
from core.settings import Settings
from core.store import catalog
from core.store import state as state_store
from core.store.db import Connection
from ingest.embed import Embedder
from ingest.quality import QualityPolicy, stale_info
from ingest.quality.dates import obsolete_flag
from ingest.quality.lifecycle import load_lifecycle


@dataclass
class Assistant:
    data_dir: Path
    index: SearchIndex
    embedder: Embedder
    state: Connection
    threshold: float
    params: RetrievalParams
    stale_days: int
    llm: Any = None
    policy: QualityPolicy | None = None
    related_floor: float = RELATED_FLOOR
    escalation: Escalation = field(default_factory=lambda: Escalation())
    _freshness: dict[tuple[str, date, str], tuple[bool, str | None]] = field(
        default_factory=dict)

    def forget_freshness(self) -> None:
        """Drop cached stale/obsolete verdicts (after an owner marks an article reviewed)."""
        self._freshness.clear()

    def stale_check(self, as_of: date):  # noqa: ANN201
        """``article_id -> (warn, reason)``: stale by the review policy, or obsolete."""
        if self.policy is None:
            self.policy = QualityPolicy(stale_days=self.stale_days, lifecycle=load_lifecycle())
        policy = self.policy

        def check(article_id: str) -> tuple[bool, str | None]:
            key = (article_id, as_of, self.index.fingerprint)
            if key not in self._freshness:
                if len(self._freshness) > 50_000:
                    self._freshness.clear()
                article = catalog.get_article(self.index.conn, article_id)
                result: tuple[bool, str | None] = (False, None)
                if article is not None:
                    obsolete = obsolete_flag(article, policy, as_of)
                    result = (True, obsolete.reason) if obsolete else \
                        stale_info(article, as_of, policy)
                self._freshness[key] = result
            return self._freshness[key]

        return check


def open_index(paths: IndexPaths) -> SearchIndex:
    if not paths.catalog.exists():
        raise KbError(f"no index at {paths.root}: run 'kb ingest' first")
    conn = catalog.connect(paths.catalog)
    return load_index(paths, conn, LazyCollection(paths.chroma))


def open_assistant(data_dir: Path, embedder: Embedder, threshold: float | None = None,
                   stale_days: int = 365, llm: Any = None,
                   policy: QualityPolicy | None = None,
                   calibration: Calibration | None = None,
                   paths: IndexPaths | None = None,
                   database_url: str | None = None) -> Assistant:
    """Open the index (default: the live one), the state DB (``database_url``: Postgres's)
    and the calibration (default: the shipped one); ``threshold`` overrides the
    calibration's."""
    calibration = calibration or load_calibration()
    index = open_index(paths or live_index(data_dir, create=False))
    state = state_store.connect(state_db(data_dir), database_url)
    return Assistant(data_dir, index, embedder, state,
                     calibration.threshold if threshold is None else threshold,
                     RetrievalParams.from_calibration(calibration), stale_days, llm, policy)


def calibration_for(settings: Settings, paths: IndexPaths) -> Calibration:
    """``KB_CALIBRATION_FILE`` when set, else the index's own (``kb calibrate``), else the
    shipped one."""
    if settings.calibration_file is None and paths.calibration.exists():
        return load_calibration(paths.calibration)
    return load_calibration(settings.calibration_file)


def assistant_from_settings(settings: Settings, embedder: Embedder, llm: Any = None,
                            paths: IndexPaths | None = None,
                            calibration: Calibration | None = None) -> Assistant:
    """:func:`open_assistant` with everything the settings say (threshold, staleness policy,
    calibration: :func:`calibration_for`): what ``kb ask``, ``kb eval`` and ``kb serve``
    open."""
    from ingest.quality.policy import policy_from_settings

    paths = paths or live_index(settings.data_dir, create=False)
    opened = open_assistant(settings.data_dir, embedder, settings.abstain_threshold,
                            settings.stale_days, llm, policy_from_settings(settings),
                            calibration or calibration_for(settings, paths), paths,
                            settings.database_url)
    return replace(opened, related_floor=settings.related_min_similarity,
                   escalation=Escalation(settings.escalation, settings.escalation_by_category))


def reopened(assistant: Assistant, settings: Settings, paths: IndexPaths) -> Assistant:
    """The assistant over the index at ``paths`` (a promotion, an in-place ingest), with that
    index's calibration (:func:`calibration_for`)."""
    calibration = calibration_for(settings, paths)
    threshold = settings.abstain_threshold
    return replace(assistant, index=open_index(paths),
                   threshold=calibration.threshold if threshold is None else threshold,
                   params=RetrievalParams.from_calibration(calibration))


def run_retrieval(assistant: Assistant, question: str, viewer: Viewer, as_of: date,
                  k: int = 5, params: RetrievalParams | None = None,
                  held_out: frozenset[str] = frozenset()) -> Retrieval:
    return retrieve(assistant.index, assistant.embedder, question, viewer, as_of, k,
                    params or assistant.params, assistant.stale_check(as_of), held_out)


def ask(assistant: Assistant, question: str, viewer: Viewer, as_of: date, k: int = 5,
        asked_by: str | None = None, record: bool = True) -> Answer:
    """Retrieve, answer (LLM if configured, else extractive), record a gap if not covered."""
    question = question.strip()
    if not question:
        raise KbError("the question is empty")
    retrieval, held = _without_flagged(assistant,
                                       run_retrieval(assistant, question, viewer, as_of, k))
    answer = extractive_answer(retrieval, assistant.index.conn, assistant.threshold,
                               assistant.related_floor)
    if held:
        answer = replace(answer, note=" ".join(filter(None, (answer.note, (
            f"Not quoted: {', '.join(held)} (under review: it holds text that addresses an "
            "AI model or is hidden from readers).")))))
    if answer.answered and assistant.llm is not None:
        from assistant.llm import llm_answer

        answer = llm_answer(assistant.llm, retrieval, answer)
    if answer.answered:
        return with_warnings(answer, assistant.state)
    answer = replace(answer, escalation=assistant.escalation.line(
        viewer.category or _closest_category(assistant, answer)))
    if record:
        hidden = _hidden_answer(assistant, question, viewer, as_of)
        # an access gap tells that a restricted article covers the question: it is shown to
        # those who may see that article, not to the asker's group
        record_gap(assistant.state, question, "access" if hidden is not None else "not_covered",
                   asked_by, answer.confidence, viewer.groups if hidden is None else hidden)
    return answer


def _without_flagged(assistant: Assistant, retrieval: Retrieval) -> tuple[Retrieval, list[str]]:
    """The retrieval without articles under review for suspicious instructions (their titles
    are returned, for the note), confidence recomputed on what is left."""
    held = under_review(assistant.state, (a.article_id for a in retrieval.articles))
    if not held:
        return retrieval, []
    kept = tuple(a for a in retrieval.articles if a.article_id not in held)
    titles = [a.title for a in retrieval.articles if a.article_id in held]
    return replace(retrieval, articles=kept,
                   confidence=confidence(list(kept), assistant.params)), titles


def _closest_category(assistant: Assistant, answer: Answer) -> str | None:
    """The category of the closest related article (shown only above the relevance floor)."""
    if not answer.related:
        return None
    row = assistant.index.article_row.get(answer.related[0]["article_id"])
    return assistant.index.articles[row].category or None if row is not None else None


def _hidden_answer(assistant: Assistant, question: str, viewer: Viewer,
                   as_of: date) -> frozenset[str] | None:
    """Would an article hidden from this viewer answer the question? Then the gap is one of
    access, not of content (recorded for owners; the asker is told nothing of it): the groups
    of that article, else None."""
    if viewer.all_groups:
        return None
    wider = run_retrieval(assistant, question, replace(viewer, all_groups=True), as_of, k=2)
    if not wider.articles or wider.confidence < assistant.threshold:
        return None
    mine = assistant.index.visible_articles(viewer.groups, as_of, viewer.product,
                                            viewer.category)
    row = assistant.index.article_row[wider.articles[0].article_id]
    return None if mine[row] else assistant.index.articles[row].groups
