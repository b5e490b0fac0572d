"""Sync throughput on a 5,000-record fake source, excluding embedding (issue 12).

For each platform's fake (real HTTP on loopback, in this process): a first full sync of N
records into a mirror (list ids + fetch + map + write files), then an incremental sync after 50
edits. Records/s and requests are reported; the ingest that follows (chunking, embedding) is
not part of it (see benchmarks/ingest.py for that).

    .venv/bin/python benchmarks/sync_throughput.py --records 5000 \
        --out benchmarks/results/sync_throughput.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.sources.config import parse_sources  # noqa: E402
from ingest.sources.sync import fetch_source  # noqa: E402
from tests.sources.demo import start_fakes  # noqa: E402


def edit_some(fakes: list, n: int) -> None:
    sn, cf, zd = fakes
    for row in sn.articles[:n]:
        sn.edit(row["number"], text=row["text"] + "<p>Edited.</p>")
    for page_id in list(cf.pages)[:n]:
        cf.edit(page_id, body=cf.pages[page_id].body + "<p>Edited.</p>")
    for article_id in list(zd.articles)[:n]:
        zd.edit(article_id, body=zd.articles[article_id].body + "<p>Edited.</p>")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = {}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        sources, env, fakes = start_fakes(stack, args.records)
        configs = parse_sources(sources)
        state: dict[str, dict] = {}
        for phase in ("full", "incremental"):
            if phase == "incremental":
                edit_some(fakes, args.edits)
            for cfg in configs:
                started = time.perf_counter()
                run = fetch_source(cfg, Path(tmp), state.get(cfg.name, {}), env, False,
                                   lambda _m: None)
                seconds = time.perf_counter() - started
                assert run.error is None, run.error
                state[cfg.name] = run.as_json()
                row = {"listed": run.listed, "fetched": run.fetched, "written": run.written,
                       "requests": run.requests, "seconds": round(seconds, 2),
                       "listed_per_s": round(run.listed / seconds, 1),
                       "fetched_per_s": round(run.fetched / seconds, 1)}
                results.setdefault(cfg.type, {})[phase] = row
                print(f"{cfg.type:11} {phase:11} {row}", flush=True)
    report = {"command": " ".join(sys.argv), "records": args.records, "edits": args.edits,
              "note": "fake servers in this process on 2 shared cores; listed_per_s: records "
                      "in scope checked per second, fetched_per_s: records fetched, mapped and "
                      "mirrored per second (list + fetch + map + mirror writes; no embedding)",
              "results": results}
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
