"""Latency of ``POST /api/ask`` through the real server, at 1 and 20 concurrent clients.

Copies the data dir (the server writes its state DB, and opening an index may migrate it),
starts ``kb serve`` on a free loopback port as a separate process, signs a benchmark agent in
with a bearer token, warms up, then sends a fixed number of requests per concurrency level
(questions from the eval sets, cycled). Reports p50/p95/max latency, throughput and errors.
Bounded in count and time; stops the server when done.

    python benchmarks/serve.py --data-dir benchmarks/results/ms-index
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see kb_cli/main.py

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KB = str(Path(sys.executable).with_name("kb"))


def questions() -> list[str]:
    out: list[str] = []
    for path in (ROOT / "evals/datasets/ms_support_dev.jsonl",
                 ROOT.parent / "shared/evalsets/ms_redirect_queries.jsonl",
                 ROOT / "evals/datasets/kb_samples.jsonl"):
        if path.exists():
            out += [json.loads(line)["question"] for line in path.read_text().splitlines()
                    if line.strip()]
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kb(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run([KB, *args], input=stdin, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "KB_SECRET_KEY": "benchmark"}
    proc = subprocess.Popen([KB, "serve", "--data-dir", str(data_dir), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kb serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("kb serve did not start within 300 s")


def run_level(url: str, token: str, qs: list[str], clients: int, total: int) -> dict:
    """``total`` requests from ``clients`` concurrent clients; latencies in ms."""
    def worker(offset: int) -> list[tuple[float, int]]:
        results = []
        with httpx.Client(base_url=url, timeout=120,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            for i in range(offset, total, clients):
                t0 = time.perf_counter()
                status = client.post("/api/ask", json={"question": qs[i % len(qs)]}).status_code
                results.append(((time.perf_counter() - t0) * 1000, status))
        return results

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [r for part in pool.map(worker, range(clients)) for r in part]
    wall = time.perf_counter() - started
    ms = sorted(r[0] for r in results)

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))], 1)

    return {"clients": clients, "requests": len(results),
            "errors": sum(1 for _, s in results if s != 200), "p50_ms": pct(50),
            "p95_ms": pct(95), "max_ms": round(ms[-1], 1),
            "throughput_rps": round(len(results) / wall, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks/results/ms-index")
    parser.add_argument("--requests", type=int, default=100, help="requests per level")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/serve.json")
    args = parser.parse_args()
    if not (args.data_dir / "LIVE").exists():
        print(f"no index in {args.data_dir}: run benchmarks/ingest.py first", file=sys.stderr)
        return 0
    qs = questions()
    with tempfile.TemporaryDirectory(prefix="kb-serve-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        shutil.copytree(args.data_dir, data_dir, ignore=shutil.ignore_patterns("state.sqlite*"))
        kb("users", "add", "bench-agent", "--role", "agent", "--password-stdin", "--data-dir",
           str(data_dir), stdin="benchmark-password\n")
        token = kb("users", "token", "bench-agent", "--data-dir", str(data_dir))
        kb("users", "add", "bench-admin", "--role", "admin", "--password-stdin", "--data-dir",
           str(data_dir), stdin="benchmark-password\n")
        admin = kb("users", "token", "bench-admin", "--data-dir", str(data_dir))
        port = free_port()
        proc = start_server(data_dir, port)
        url = f"http://127.0.0.1:{port}"
        try:
            run_level(url, token, qs[-10:], 1, 10)  # warm up
            levels = [run_level(url, token, qs, c, args.requests) for c in args.clients]
            health = httpx.get(f"{url}/healthz",  # counts go to metrics users only
                               headers={"Authorization": f"Bearer {admin}"}).json()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = {"command": "python " + " ".join(sys.argv), "data_dir": str(args.data_dir),
              "articles": health["articles"], "chunks": health["chunks"], "levels": levels}
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
