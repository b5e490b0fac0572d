"""Ingest benchmark on the real corpus: throughput, peak RSS, overhead over embedding alone.

Runs ``kb ingest`` on the corpus into a fresh data dir (a real subprocess), then times the
model alone embedding a deterministic sample of the same chunks (same text, same batch size)
and extrapolates to all chunks: that is the floor on this hardware. Then times a no-change
re-run. Reports ratios measured in the same run, never absolute pass/fail.

    python benchmarks/ingest.py --corpus ../shared/corpora/ms-support
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_ingest(corpus: Path, data_dir: Path) -> tuple[dict, float]:
    kb = Path(sys.executable).with_name("kb")
    started = time.perf_counter()
    out = subprocess.run([str(kb), "ingest", str(corpus), "--data-dir", str(data_dir), "--json"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout), time.perf_counter() - started


def embed_only_seconds(data_dir: Path, sample: int) -> tuple[float, int, int]:
    from core.paths import live_index
    from core.store import catalog
    from ingest.embed import SentenceTransformerEmbedder

    conn = catalog.open_readonly(live_index(data_dir, create=False).catalog)
    texts = []
    for _, title, section, text in catalog.lexical_documents(conn):
        path = " > ".join(section)
        texts.append(f"{title} | {path}\n{text}" if path else f"{title}\n{text}")
    picked = random.Random(7).sample(texts, min(sample, len(texts)))
    model = SentenceTransformerEmbedder()
    model.embed(picked[:32])
    started = time.perf_counter()
    model.embed(picked)
    elapsed = time.perf_counter() - started
    return elapsed * len(texts) / len(picked), len(picked), len(texts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/corpora/ms-support")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks/results/ms-index")
    parser.add_argument("--sample", type=int, default=2000, help="chunks for embed-only timing")
    parser.add_argument("--keep", action="store_true", help="reuse an existing index")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus not found at {args.corpus}: skipping", file=sys.stderr)
        return 0
    if not args.keep:
        shutil.rmtree(args.data_dir, ignore_errors=True)
    report, total = run_ingest(args.corpus, args.data_dir)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rerun, rerun_s = run_ingest(args.corpus, args.data_dir)
    floor, sampled, chunks = embed_only_seconds(args.data_dir, args.sample)
    result = {
        "articles": report["articles"], "chunks": report["chunks"],
        "failed": len(report["failed"]), "ingest_seconds": round(total, 1),
        "articles_per_s": round(report["articles"] / total, 2),
        "chunks_per_s": round(report["chunks"] / total, 2), "peak_rss_mb": round(peak_mb),
        "embed_only_seconds_extrapolated": round(floor, 1), "embed_sample": sampled,
        "ratio_total_to_embed_only": round(total / floor, 3) if floor else None,
        "no_change_rerun_seconds": round(rerun_s, 2),
        "no_change_rerun_embedded": rerun["embedded_chunks"],
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "benchmarks/results/ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
