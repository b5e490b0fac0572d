"""Ingest benchmark on the real corpus: throughput, peak RSS, overhead over embedding alone.

Runs ``kb ingest`` on the corpus into a fresh data dir (a real subprocess), then times the
model alone embedding a deterministic sample of the same chunks (same text, same batch size)
and extrapolates to all chunks: that is the floor on this hardware. Then times a no-change
re-run. Reports ratios measured in the same run, never absolute pass/fail (wall clock, and
CPU seconds too: on a machine shared with other work the wall ratio moves with the load, the
CPU ratio much less; the load average is recorded at the start and the end), and the tokens
embedded (each chunk's embed text: title, section path, text) against the corpus's own (each
indexed article's text as kb read it), both counted with tiktoken as kb counts them.

    python benchmarks/ingest.py --corpus ../shared/corpora/ms-support
    python benchmarks/ingest.py --slice 800 --out benchmarks/results/ingest_slice800.json
    python benchmarks/ingest.py --slice 800 --repo /tmp/older-kb   # that code's kb ingest
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ingest(corpus: Path, data_dir: Path, repo: Path = ROOT) -> tuple[dict, float, float]:
    """``kb ingest`` with ``repo``'s code (``python -m kb_cli.main`` run in that folder):
    its report, wall seconds and CPU seconds (its processes, the read worker included)."""
    cpu = children_cpu()
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "kb_cli.main", "ingest", str(corpus),
                          "--data-dir", str(data_dir), "--json"],
                         check=True, capture_output=True, text=True, cwd=repo,
                         env={**os.environ, "PYTHONPATH": str(repo)})
    return json.loads(out.stdout), time.perf_counter() - started, children_cpu() - cpu


def corpus_slice(corpus: Path, count: int, into: Path) -> Path:
    """``count`` article files spread evenly over the corpus (sorted paths), with their
    sidecars, copied under ``into`` at their relative paths."""
    from ingest.run import discover

    files = list(discover(corpus))
    step = max(1, len(files) // count)
    for path in files[::step][:count]:
        for one in (path, path.with_name(path.stem + ".meta.yaml")):
            if one.exists():
                target = into / one.relative_to(corpus)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(one, target)
    return into


def token_counts(data_dir: Path) -> dict[str, int | float]:
    """Tokens embedded (every chunk's embed text) and the articles' own text's tokens."""
    from core.paths import live_index
    from core.store import catalog
    from core.types import embed_text
    from ingest.tokens import count_tokens

    conn = catalog.open_readonly(live_index(data_dir, create=False).catalog)
    try:
        embedded = sum(count_tokens(embed_text(title, tuple(section), text))
                       for _, title, section, text in catalog.lexical_documents(conn))
        own = sum(count_tokens(article.text) for article in catalog.iter_articles(conn))
    finally:
        conn.close()
    return {"tokens_embedded": embedded, "tokens_corpus_text": own,
            "tokens_embedded_per_corpus_token": round(embedded / own, 3) if own else 0.0}


def embed_only_seconds(data_dir: Path, sample: int) -> tuple[float, float, int, int]:
    """Seconds (wall, CPU) for the model alone to embed every chunk, extrapolated from a
    sample embedded in one call, and the sample's and the index's chunk counts."""
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
    cpu = time.process_time()
    started = time.perf_counter()
    model.embed(picked)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    scale = len(texts) / len(picked)
    return elapsed * scale, cpu * scale, len(picked), len(texts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/corpora/ms-support")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks/results/ms-index")
    parser.add_argument("--sample", type=int, default=2000, help="chunks for embed-only timing")
    parser.add_argument("--keep", action="store_true", help="reuse an existing index")
    parser.add_argument("--slice", type=int, help="only N articles, spread over the corpus")
    parser.add_argument("--repo", type=Path, default=ROOT, help="whose code runs kb ingest")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/ingest.json")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus not found at {args.corpus}: skipping", file=sys.stderr)
        return 0
    corpus = args.corpus
    if args.slice:
        corpus = corpus_slice(args.corpus, args.slice,
                              Path(tempfile.mkdtemp(prefix="kb-slice-")) / "kb")
    if not args.keep:
        shutil.rmtree(args.data_dir, ignore_errors=True)
    load_start = os.getloadavg()[0]
    report, total, total_cpu = run_ingest(corpus, args.data_dir, args.repo)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rerun, rerun_s, _ = run_ingest(corpus, args.data_dir, args.repo)
    floor, floor_cpu, sampled, chunks = embed_only_seconds(args.data_dir, args.sample)
    result = {
        "command": " ".join(["python", *sys.argv]), "repo": str(args.repo),
        "cores": os.cpu_count(), "load_avg_1min_at_start": round(load_start, 2),
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
        "articles": report["articles"], "chunks": report["chunks"],
        "failed": len(report["failed"]), "ingest_seconds": round(total, 1),
        "articles_per_s": round(report["articles"] / total, 2),
        "chunks_per_s": round(report["chunks"] / total, 2), "peak_rss_mb": round(peak_mb),
        "embed_only_seconds_extrapolated": round(floor, 1), "embed_sample": sampled,
        "ratio_total_to_embed_only": round(total / floor, 3) if floor else None,
        "ingest_cpu_seconds": round(total_cpu, 1),
        "embed_only_cpu_seconds_extrapolated": round(floor_cpu, 1),
        "ratio_cpu_total_to_embed_only": round(total_cpu / floor_cpu, 3) if floor_cpu else None,
        "no_change_rerun_seconds": round(rerun_s, 2),
        "no_change_rerun_embedded": rerun["embedded_chunks"],
        **token_counts(args.data_dir),
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
