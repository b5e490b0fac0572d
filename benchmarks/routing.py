"""Routing on the it-tickets corpus: kb's router beside the published TF-IDF + SVM baseline.

The fixed stratified 80/20 split of ``kb eval-routing`` (random_state=0): both models trained
on the 80% (the router's threshold chosen by cross-validation inside it), reported on the 20%.
Also: a full refit on all tickets (what ``kb tickets train`` costs when the history grows), the
saved model's size and load time, and ``Router.suggest`` latency per held-out ticket (model
loaded; no KB article retrieval).

    python benchmarks/routing.py            # writes benchmarks/results/routing.json
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see kb_cli/main.py

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TICKETS = ROOT / ".." / "shared" / "datasets" / "it-tickets" / "tickets.csv"


def main() -> int:
    from evals.metrics import percentile
    from tickets.routing import load_router, save_router, train_router
    from tickets.routing_eval import evaluate, read_labelled, split

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=Path, default=TICKETS)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/routing.json")
    parser.add_argument("--latency-tickets", type=int, default=1000)
    parser.add_argument("--no-refit", action="store_true", help="skip the refit on all tickets")
    args = parser.parse_args()
    if not args.tickets.is_file():
        print(f"no tickets at {args.tickets}", file=sys.stderr)
        return 2
    rows = read_labelled(args.tickets)
    report, router = evaluate(rows)
    _, test = split(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "routing"
        save_router(router, path)
        size = sum(p.stat().st_size for p in path.iterdir())
        started = time.perf_counter()
        loaded = load_router(path)
        load_s = time.perf_counter() - started
    loaded.suggest("warm up")
    times = []
    for row in test[:args.latency_tickets]:
        started = time.perf_counter()
        loaded.suggest(row.text)
        times.append((time.perf_counter() - started) * 1000)
    refit = None
    if not args.no_refit:
        started = time.perf_counter()
        train_router([r.text for r in rows], [r.category for r in rows], None,
                     [r.id for r in rows])
        refit = {"tickets": len(rows), "seconds": round(time.perf_counter() - started, 1)}
    out = {"command": "python benchmarks/routing.py", "cpus": os.cpu_count(),
           "load_average_1m": round(os.getloadavg()[0], 2), **report,
           "train_time_ratio_to_baseline": round(report["router"]["train_seconds"]
                                                 / report["baseline"]["train_seconds"], 1),
           "model_bytes": size, "load_seconds": round(load_s, 2),
           "suggest_ms": {"tickets": len(times), "p50": round(percentile(times, 50), 1),
                          "p95": round(percentile(times, 95), 1)},
           "full_refit": refit}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    from tickets.routing_report import summary_text

    print(summary_text(report))
    print(f"train time ratio to baseline {out['train_time_ratio_to_baseline']}; model "
          f"{size / 1e6:.1f} MB, loads in {load_s:.2f} s; suggest p50 "
          f"{out['suggest_ms']['p50']} ms, p95 {out['suggest_ms']['p95']} ms; full refit "
          f"{refit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
