"""Query cost against index size: real ms-support indexes of 500 to 4,769 articles and a
synthetic ~200,000-chunk one, each measured for size on disk, ``kb serve`` memory, in-process
``kb ask`` latency (with a per-stage profile) and ``/api/ask`` throughput.

Each article is embedded once: the base index is one ``kb ingest`` of the corpus (or an index
given with ``--base``, e.g. one whose ingest was stopped part-way: its catalog is the source of
truth and its BM25 / vectors are rebuilt for it). The smaller indexes are made from it by
copying catalog rows and their vectors and rebuilding BM25 (``ingest.run.rebuild_lexical``);
the synthetic one adds copies of every article under new ids (``copy-K/...``, chunk ids by
``ingest.chunk.chunk_id``) whose vectors are the original's plus a little noise, so that copies
do not tie. Nothing is re-embedded.

    nice -n 10 python benchmarks/scale.py --corpus ../shared/corpora/ms-support --work /work/scale

Skips (exit 0) when the corpus is absent. ``--workers 1 2`` measures the server with each
worker count when ``kb serve --workers`` exists (else 1 worker only, and says so).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as kb_cli/main.py

import argparse
import importlib.util
import json
import math
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# this folder holds an ingest.py of its own: the project's packages must come first
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks")]

from core.paths import IndexPaths, live_index  # noqa: E402
from core.store import catalog  # noqa: E402
from core.types import Chunk  # noqa: E402
from ingest import lexical, matrix, vectors  # noqa: E402
from ingest.chunk import chunk_id  # noqa: E402
from ingest.run import rebuild_lexical, rebuild_search_files  # noqa: E402

_serve = importlib.util.spec_from_file_location("serve_bench", ROOT / "benchmarks/serve.py")
assert _serve is not None and _serve.loader is not None
serve_bench = importlib.util.module_from_spec(_serve)
_serve.loader.exec_module(serve_bench)
KB, free_port, kb, run_level = (serve_bench.KB, serve_bench.free_port, serve_bench.kb,
                                serve_bench.run_level)

#: the corpus snapshot date (its README): "today" for the date rules
AS_OF = date(2024, 10, 24)
DATASET = ROOT / "evals/datasets/ms_support_dev.jsonl"


def questions(limit: int) -> list[str]:
    rows = [json.loads(line) for line in DATASET.read_text().splitlines() if line.strip()]
    return [r["question"] for r in rows][:limit]


def disk_bytes(path: Path) -> dict[str, int]:
    """Allocated bytes under an index dir, per top-level entry and in total."""
    out: dict[str, int] = {}
    for entry in path.iterdir():
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        out[entry.name] = sum(p.stat().st_blocks * 512 for p in files)
    out["total"] = sum(out.values())
    return out


# ---- building indexes without embedding ------------------------------------------------

def ensure_base(corpus: Path, base: Path) -> IndexPaths:
    """The base data dir: ``kb ingest`` of the corpus unless one is there already; its BM25
    and vectors are made to describe its catalog (a stopped ingest leaves them stale)."""
    if not (base / "LIVE").exists():
        subprocess.run([KB, "ingest", str(corpus), "--data-dir", str(base), "--json"],
                       check=True, stdout=subprocess.DEVNULL)
    paths = live_index(base, create=False)
    conn = catalog.connect(paths.catalog)
    try:
        rebuild_search_files(conn, vectors.open_collection(paths.chroma), paths.bm25, False)
    finally:
        conn.close()
    return paths


def _copy_id(name: str, copy: int) -> str:
    return f"copy-{copy}/{name}" if copy else name


def build_index(base: IndexPaths, data_dir: Path, article_ids: list[str], copies: int = 1,
                noise: float = 0.005, chroma: bool = True) -> IndexPaths:
    """An index of ``article_ids`` (``copies`` times, under new ids after the first) from
    the base index's catalog rows and vectors; BM25 rebuilt, Chroma filled from the matrix."""
    if (data_dir / "LIVE").exists():
        return live_index(data_dir, create=False)
    shutil.rmtree(data_dir, ignore_errors=True)
    paths = live_index(data_dir)
    src = catalog.open_readonly(base.catalog)
    base_ids = lexical.load_ids(base.bm25)
    base_matrix = matrix.load(base.matrix, catalog.get_kv(src, "fingerprint") or "",
                              len(base_ids))
    assert base_matrix is not None, "the base index's vectors.npz does not match its catalog"
    row = {cid: i for i, cid in enumerate(base_ids)}
    wanted = set(article_ids)
    flags = [f for f in catalog.load_flags(src) if f.article_id in wanted]
    rng = np.random.default_rng(14)
    new_vectors: dict[str, np.ndarray] = {}
    conn = catalog.connect(paths.catalog)
    for copy in range(copies):
        with catalog.transaction(conn):
            for aid in article_ids:
                source = catalog.get_article(src, aid)
                assert source is not None
                article = replace(source, id=_copy_id(source.id, copy),
                                  path=_copy_id(source.path, copy))
                chunks = []
                for cid, (_, position, section, anchor, text) in catalog.chunks_of(src, aid):
                    new_id = chunk_id(article.id, section, text, int(cid.rsplit("-", 1)[1])) \
                        if copy else cid
                    chunks.append(Chunk(new_id, article.id, article.title, section, position,
                                        anchor, text, article.content_hash))
                    vector = np.asarray(base_matrix[row[cid]], dtype=np.float32)
                    if copy:
                        vector = vector + rng.normal(0, noise, vector.shape).astype(np.float32)
                        vector /= np.linalg.norm(vector)
                    new_vectors[new_id] = vector
                catalog.save_article(conn, article, chunks)
    as_of = date.fromisoformat(catalog.get_kv(src, "flags_as_of") or AS_OF.isoformat())
    catalog.save_flags(conn, [replace(f, article_id=_copy_id(f.article_id, copy))
                              for copy in range(copies) for f in flags], as_of)
    with catalog.transaction(conn):
        for key in ("model", "source", "roots", "last_ingest"):
            value = catalog.get_kv(src, key)
            if value is not None:
                catalog.set_kv(conn, key, value)
    src.close()
    fingerprint = rebuild_lexical(conn, paths.bm25)
    order = lexical.load_ids(paths.bm25)
    matrix.save(paths.matrix, np.stack([new_vectors[c] for c in order]), fingerprint)
    del new_vectors
    with catalog.transaction(conn):
        catalog.set_kv(conn, "fingerprint", fingerprint)
    conn.close()
    if chroma:
        vectors._fill_from_matrix(vectors.open_collection(paths.chroma), paths.root)  # noqa: SLF001
    return paths


def sample_articles(base: IndexPaths, sizes: list[int]) -> dict[int, list[str]]:
    """Nested random samples of the base's articles (seeded): the 500 are in the 1,000..."""
    conn = catalog.open_readonly(base.catalog)
    ids = catalog.article_ids(conn)
    conn.close()
    order = [ids[i] for i in np.random.default_rng(14).permutation(len(ids))]
    return {n: sorted(order[:n]) for n in sizes if n <= len(ids)}


# ---- in-process kb ask (run in a child process per index) -----------------------------

def _timed(name: str, fn: Callable[..., Any], totals: dict[str, float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - started
    return wrapper


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 2)


def measure_ask(data_dir: Path, n_questions: int) -> dict[str, Any]:
    """What ``kb ask`` does, in this process: open the assistant (timed), warm up, then time
    ``ask`` per question and each retrieval stage (embedding, dense matrix product, BM25,
    the rest of retrieval = fusion and features, answer composition); then a Chroma HNSW
    query of the same vectors, which the query path does not use, for comparison."""
    import psutil

    import assistant.retrieve as retrieve_mod
    import assistant.service as service
    from assistant.types import Viewer
    from core.settings import Settings
    from kb_cli.context import make_embedder

    settings = Settings().model_copy(update={"data_dir": data_dir})
    embedder = make_embedder(settings)
    embedder.embed(["warm up the model"])
    started = time.perf_counter()
    assistant = service.assistant_from_settings(settings, embedder)
    open_s = time.perf_counter() - started
    qs = questions(n_questions)
    for q in qs[:5]:
        service.ask(assistant, q, Viewer(), AS_OF, 5)
    totals: dict[str, float] = defaultdict(float)
    embedder.embed = _timed("embed", embedder.embed, totals)  # type: ignore[method-assign]
    retrieve_mod._dense = _timed("dense", retrieve_mod._dense, totals)
    retrieve_mod._lexical = _timed("bm25", retrieve_mod._lexical, totals)
    service.retrieve = _timed("retrieve", service.retrieve, totals)  # type: ignore[attr-defined]
    latencies = []
    for q in qs:
        t0 = time.perf_counter()
        service.ask(assistant, q, Viewer(), AS_OF, 5)
        latencies.append((time.perf_counter() - t0) * 1000)
    n = len(qs)
    stages = {k: round(v / n * 1000, 2) for k, v in totals.items()}
    stages["fusion_features"] = round(stages["retrieve"] - stages["embed"] - stages["dense"]
                                      - stages["bm25"], 2)
    stages["answer"] = round(sum(latencies) / n - stages["retrieve"], 2)
    process = psutil.Process()
    profile = _profile(lambda: [service.ask(assistant, q, Viewer(), AS_OF, 5) for q in qs[:10]],
                       min(10, n))
    return {"questions": n, "open_s": round(open_s, 2), "p50_ms": _pct(latencies, 50),
            "p95_ms": _pct(latencies, 95), "mean_ms": round(sum(latencies) / n, 2),
            "stages_mean_ms": stages, "chroma_hnsw_ms": _chroma_query_ms(assistant, qs),
            "profile_top_ms_per_query": profile,
            "rss_mb": round(process.memory_info().rss / 2**20, 1),
            "pss_mb": round(process.memory_full_info().pss / 2**20, 1)}


def _profile(run: Callable[[], Any], queries: int, top: int = 12) -> list[dict[str, Any]]:
    """cProfile of ``run``: the functions with the most own time, in ms per query."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(run)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    return [{"function": f"{Path(file).name}:{line}:{name}", "calls": nc // queries,
             "own_ms": round(tt / queries * 1000, 2),
             "cumulative_ms": round(ct / queries * 1000, 2)}
            for (file, line, name), (_, nc, tt, ct, _) in rows]


def _chroma_query_ms(assistant: Any, qs: list[str]) -> dict[str, float] | None:
    """Mean ms of a top-40 Chroma query, unfiltered and with a visibility filter."""
    index = assistant.index
    if not (index.paths.chroma / "chroma.sqlite3").exists():
        return None
    collection = vectors.open_collection(index.paths.chroma)
    q_vecs = [assistant.embedder.embed([q])[0] for q in qs[:20]]
    where = {"$and": [{"public": True}, {"status": "published"}]}
    collection.query(query_embeddings=[q_vecs[0]], n_results=40)  # loads the HNSW index
    out = {}
    for name, filt in (("unfiltered", None), ("filtered", where)):
        started = time.perf_counter()
        for vec in q_vecs:
            collection.query(query_embeddings=[vec], n_results=40, where=filt)
        out[name] = round((time.perf_counter() - started) / len(q_vecs) * 1000, 2)
    return out


# ---- kb serve ------------------------------------------------------------------------

def workers_supported() -> bool:
    done = subprocess.run([KB, "serve", "--help"], capture_output=True, text=True, check=True)
    return "--workers" in done.stdout


def _tree_memory(pid: int) -> dict[str, float]:
    import psutil

    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    infos = [p.memory_full_info() for p in procs]
    return {"processes": len(procs), "rss_mb": round(sum(i.rss for i in infos) / 2**20, 1),
            "pss_mb": round(sum(i.pss for i in infos) / 2**20, 1),
            "uss_mb": round(sum(i.uss for i in infos) / 2**20, 1)}


def _token(data_dir: Path) -> str:
    saved = data_dir / "bench-token"
    if not saved.exists():
        kb("users", "add", "bench-agent", "--role", "agent", "--password-stdin", "--data-dir",
           str(data_dir), stdin="benchmark-password\n")
        saved.write_text(kb("users", "token", "bench-agent", "--data-dir", str(data_dir)))
    return saved.read_text().strip()


def measure_serve(data_dir: Path, workers: int | None, qs: list[str], requests: int,
                  clients: list[int]) -> dict[str, Any]:
    """Start ``kb serve`` (``--workers N`` when given), warm up, read the process tree's
    memory, then run each concurrency level."""
    token, port = _token(data_dir), free_port()
    cmd = [KB, "serve", "--data-dir", str(data_dir), "--port", str(port)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, "KB_SECRET_KEY": "benchmark"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None or time.perf_counter() - started > 600:
                raise RuntimeError(f"kb serve did not start: {' '.join(cmd)}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        ready_s = time.perf_counter() - started
        run_level(url, token, qs[-10:], 2 * (workers or 1), 10 * (workers or 1))  # warm up
        memory = _tree_memory(proc.pid)
        levels = [run_level(url, token, qs, c, requests) for c in clients]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"workers": workers or 1, "ready_s": round(ready_s, 1), "memory_after_warmup": memory,
            "levels": levels}


# ---- report ---------------------------------------------------------------------------

def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) on log(x): the exponent of y ~ x^k."""
    lx, ly = np.log(np.asarray(xs)), np.log(np.asarray(ys))
    return round(float(np.polyfit(lx, ly, 1)[0]), 3)


def write_svg(path: Path, rows: list[dict[str, Any]]) -> None:
    """Log-log plot of ask p50 and its stages against chunks (hand-written SVG)."""
    series = {"kb ask p50": [r["ask"]["p50_ms"] for r in rows],
              "dense (matrix)": [r["ask"]["stages_mean_ms"]["dense"] for r in rows],
              "BM25": [r["ask"]["stages_mean_ms"]["bm25"] for r in rows],
              "fusion+features": [r["ask"]["stages_mean_ms"]["fusion_features"] for r in rows],
              "embedding": [r["ask"]["stages_mean_ms"]["embed"] for r in rows]}
    colours = ["#000000", "#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    xs = [r["chunks"] for r in rows]
    ys = [max(v, 0.01) for s in series.values() for v in s]
    w, h, left, right, top, bottom = 720, 440, 70, 170, 30, 50
    x0, x1 = math.log10(min(xs)) - 0.1, math.log10(max(xs)) + 0.1
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))

    def px(x: float) -> float:
        return left + (math.log10(x) - x0) / (x1 - x0) * (w - left - right)

    def py(y: float) -> float:
        return h - bottom - (math.log10(max(y, 0.01)) - y0) / (y1 - y0) * (h - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="14">kb ask latency vs index size '
           '(ms, log-log; stages are means)</text>']
    for e in range(int(y0), int(y1) + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - right}" y2="{y:.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{10 ** e:g}</text>')
    for x in xs:
        out.append(f'<line x1="{px(x):.1f}" y1="{top}" x2="{px(x):.1f}" y2="{h - bottom}" '
                   'stroke="#eee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{h - bottom + 16}" text-anchor="middle">'
                   f'{x / 1000:.0f}k</text>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 12}" text-anchor="middle">'
               'chunks in the index</text>')
    for i, (name, values) in enumerate(series.items()):
        points = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in zip(xs, values, strict=True))
        out.append(f'<polyline points="{points}" fill="none" stroke="{colours[i]}" '
                   'stroke-width="2"/>')
        out += [f'<circle cx="{px(x):.1f}" cy="{py(v):.1f}" r="3" fill="{colours[i]}"/>'
                for x, v in zip(xs, values, strict=True)]
        out.append(f'<text x="{w - right + 10}" y="{top + 20 + 18 * i}" fill="{colours[i]}">'
                   f'{name}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/corpora/ms-support")
    parser.add_argument("--work", type=Path, default=Path("/work/scale"),
                        help="where the indexes are built (outside the repo)")
    parser.add_argument("--base", type=Path, help="data dir of an ingest of the corpus "
                        "(default WORK/full, ingested when missing)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4769])
    parser.add_argument("--synthetic-chunks", type=int, default=200_000)
    parser.add_argument("--synthetic-chroma", action="store_true",
                        help="fill Chroma for the synthetic index too (slow; queries never "
                        "read it, only size on disk and the HNSW comparison need it)")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--requests", type=int, default=40, help="requests per server level")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/scale.json")
    parser.add_argument("--ask-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ask_only:
        print(json.dumps(measure_ask(args.ask_only, args.questions)))
        return 0
    if not (args.corpus / "manifest.jsonl").exists():
        print(f"no corpus at {args.corpus}: skipped", file=sys.stderr)
        return 0
    started = time.time()
    load_before = os.getloadavg()
    base = ensure_base(args.corpus, args.base or args.work / "full")
    samples = sample_articles(base, args.sizes)
    largest = max(samples)
    if largest < max(args.sizes):  # a stopped ingest: its whole catalog is the largest set
        conn = catalog.open_readonly(base.catalog)
        samples[len(catalog.article_ids(conn))] = sorted(catalog.article_ids(conn))
        conn.close()
        largest = max(samples)
    plan = [(f"real-{n}", samples[n], 1) for n in sorted(samples)]
    conn = catalog.open_readonly(base.catalog)
    chunks_largest = catalog.counts(conn)["chunks"] * largest // len(catalog.article_ids(conn))
    conn.close()
    copies = max(1, round(args.synthetic_chunks / chunks_largest))
    plan.append((f"synthetic-{copies}x{largest}", samples[largest], copies))
    can_workers = workers_supported()
    worker_counts = args.workers if can_workers else [None]
    qs = questions(args.questions)
    rows = []
    for name, ids, n_copies in plan:
        t0 = time.perf_counter()
        paths = build_index(base, args.work / name, ids, n_copies,
                            chroma=n_copies == 1 or args.synthetic_chroma)
        build_s = time.perf_counter() - t0
        conn = catalog.open_readonly(paths.catalog)
        counts = catalog.counts(conn)
        conn.close()
        print(f"{name}: {counts} built in {build_s:.0f} s", file=sys.stderr, flush=True)
        child = subprocess.run([sys.executable, __file__, "--ask-only", str(args.work / name),
                                "--questions", str(args.questions)],
                               capture_output=True, text=True, check=True)
        ask = json.loads(child.stdout.strip().splitlines()[-1])
        serve = [measure_serve(args.work / name, w, qs, args.requests, args.clients)
                 for w in worker_counts]
        rows.append({"index": name, "articles": counts["articles"], "chunks": counts["chunks"],
                     "copies": n_copies, "build_s": round(build_s, 1),
                     "disk_bytes": disk_bytes(paths.root), "ask": ask, "serve": serve})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    xs = [r["chunks"] for r in rows]
    stages = ("dense", "bm25", "fusion_features", "embed")
    result = {
        "command": "python " + " ".join(sys.argv),
        "machine": {"cpus": os.cpu_count(), "load_avg_before": [round(x, 2) for x in load_before],
                    "load_avg_after": [round(x, 2) for x in os.getloadavg()],
                    "nice": os.nice(0), "minutes": round((time.time() - started) / 60, 1)},
        "workers_flag": can_workers,
        "exponents": {"ask_p50": slope(xs, [r["ask"]["p50_ms"] for r in rows]),
                      "retrieval_without_embedding": slope(xs, [
                          r["ask"]["stages_mean_ms"]["retrieve"]
                          - r["ask"]["stages_mean_ms"]["embed"] for r in rows]),
                      **{s: slope(xs, [max(r["ask"]["stages_mean_ms"][s], 0.01) for r in rows])
                         for s in stages}},
        "indexes": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    write_svg(args.out.with_suffix(".svg"), rows)
    print(json.dumps(result["exponents"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
