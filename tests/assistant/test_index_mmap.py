"""The query path maps the vectors and BM25 scores from disk (shared by server workers) and
ranks exactly as the same index read into memory does."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import bm25s
import numpy as np

from assistant.calibration import load_calibration
from assistant.retrieve import RetrievalParams, retrieve
from assistant.service import open_index
from assistant.types import Viewer
from core.paths import live_index
from ingest.embed import HashingEmbedder
from tests.assistant.helpers import KB_SAMPLES, REFERENCE_DATE, SAMPLES_DATASET, build_index


def test_the_index_is_mapped_and_ranks_as_in_memory(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    paths = live_index(build_index(tmp_path / "data", KB_SAMPLES, embedder))
    mapped = open_index(paths)
    assert isinstance(mapped.vectors, np.memmap) and not mapped.vectors.flags.writeable
    assert isinstance(mapped.bm25.scores["data"], np.memmap)
    in_memory = replace(mapped, vectors=np.array(mapped.vectors),
                        bm25=bm25s.BM25.load(str(paths.bm25 / "bm25")), _masks={}, _tokens={})
    assert not isinstance(in_memory.vectors, np.memmap)
    params = RetrievalParams.from_calibration(load_calibration())
    questions = [json.loads(line)["question"] for line in SAMPLES_DATASET.read_text().splitlines()
                 if line.strip()]
    assert len(questions) > 20
    found = 0
    for viewer in (Viewer(), Viewer(frozenset({"security-team"}))):
        for question in questions:
            got = retrieve(mapped, embedder, question, viewer, REFERENCE_DATE, 5, params)
            want = retrieve(in_memory, embedder, question, viewer, REFERENCE_DATE, 5, params)
            assert got == want
            found += bool(got.articles)
    assert found > len(questions)
    mapped.conn.close()
