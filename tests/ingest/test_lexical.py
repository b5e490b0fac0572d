"""The saved BM25 index: loaded with its score arrays memory-mapped, same scores as in memory."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np

from ingest import lexical

TEXTS = ["Outlook keeps asking for a password", "VPN error 0x80070005 after the update",
         "Printer jams in tray 2", "Reset the VPN client and sign in again"]


def test_load_maps_the_score_arrays_and_scores_as_before(tmp_path: Path) -> None:
    out = tmp_path / "bm25"
    lexical.build(["a", "b", "c", "d"], TEXTS, out, "fp")
    retriever, ids, fingerprint = lexical.load(out)
    assert (ids, fingerprint) == (["a", "b", "c", "d"], "fp")
    assert retriever is not None
    assert all(isinstance(retriever.scores[k], np.memmap) for k in ("data", "indices", "indptr"))
    in_memory = bm25s.BM25.load(str(out / "bm25"))
    for question in ("vpn 0x80070005", "printer tray", "password"):
        tokens = lexical.tokenize(question)
        assert np.array_equal(retriever.get_scores(tokens), in_memory.get_scores(tokens))
    assert retriever.get_scores(lexical.tokenize("vpn")).argmax() in (1, 3)
