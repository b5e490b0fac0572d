"""Query latency on the real corpus: the work of ``kb ask`` beside a dense-only query.

Excludes process start and model load. For each question: kb's retrieve + extractive answer
(no gap recording), and, in the same run, a dense-only query of the same index (embed the
question + one unfiltered Chroma query, top 10), and for reference the same Chroma query with
kb's permission/status/expiry filter as a ``where``. Reports p50/p95 and kb's ratio to dense-only.

    python benchmarks/query.py --data-dir .kb-ms
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see kb_cli/main.py

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def questions(paths: list[Path]) -> list[str]:
    out = []
    for path in paths:
        if path.exists():
            out += [json.loads(line)["question"] for line in path.read_text().splitlines()
                    if line.strip()]
    return out


def chroma_filter(groups: frozenset[str], as_of: date) -> dict:
    """kb's visibility rule (``core.visibility``) written as a Chroma ``where``: the slow
    path this benchmark compares kb's in-memory mask to. Benchmark-only."""
    from ingest.vectors import group_key

    who = ({"public": True} if not groups else
           {"$or": [{"public": True}, *({group_key(g): True} for g in sorted(groups))]})
    return {"$and": [who, {"status": "published"},
                     {"valid_until": {"$gte": int(as_of.strftime("%Y%m%d"))}}]}


def main() -> int:
    from assistant.answer import extractive_answer
    from assistant.service import open_assistant, run_retrieval
    from assistant.types import Viewer
    from evals.metrics import percentile
    from ingest.embed import SentenceTransformerEmbedder

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks/results/ms-index")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not (args.data_dir / "LIVE").exists():
        print(f"no index in {args.data_dir}: run benchmarks/ingest.py first", file=sys.stderr)
        return 0
    qs = questions([ROOT / "evals/datasets/ms_support_dev.jsonl",
                    ROOT.parent / "shared/evalsets/ms_redirect_queries.jsonl"])
    assistant = open_assistant(args.data_dir, SentenceTransformerEmbedder())
    viewer, today = Viewer(), date.today()
    collection = assistant.index.collection
    for q in qs[:10]:  # warm up
        run_retrieval(assistant, q, viewer, today)
    kb_ms, dense_ms, filtered_ms = [], [], []
    for _ in range(args.rounds):
        for q in qs:
            t0 = time.perf_counter()
            retrieval = run_retrieval(assistant, q, viewer, today)
            extractive_answer(retrieval, assistant.index.conn, assistant.threshold)
            t1 = time.perf_counter()
            vec = assistant.embedder.embed([q])[0]
            collection.query(query_embeddings=[vec], n_results=10, include=["distances"])
            t2 = time.perf_counter()
            collection.query(query_embeddings=[vec], n_results=10,
                             where=chroma_filter(viewer.groups, today), include=["distances"])
            t3 = time.perf_counter()
            kb_ms.append((t1 - t0) * 1000)
            dense_ms.append((t2 - t1) * 1000)
            filtered_ms.append((t3 - t2) * 1000 + (t2 - t1) * 1000)
    result = {"questions": len(qs), "rounds": args.rounds,
              "kb_ask_p50_ms": round(percentile(kb_ms, 50), 1),
              "kb_ask_p95_ms": round(percentile(kb_ms, 95), 1),
              "dense_only_p50_ms": round(percentile(dense_ms, 50), 1),
              "dense_only_p95_ms": round(percentile(dense_ms, 95), 1),
              "chroma_filtered_p50_ms": round(percentile(filtered_ms, 50), 1),
              "chroma_filtered_p95_ms": round(percentile(filtered_ms, 95), 1)}
    result["ratio_p95"] = round(result["kb_ask_p95_ms"] / result["dense_only_p95_ms"], 2)
    result["ratio_p50"] = round(result["kb_ask_p50_ms"] / result["dense_only_p50_ms"], 2)
    print(json.dumps(result, indent=2))
    out = ROOT / "benchmarks/results/query.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
