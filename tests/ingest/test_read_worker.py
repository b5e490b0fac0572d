"""Reading files in the worker process (``ingest/read_worker.py`` running
``ingest.run.read_file``): results in the order given, failures in place, a crash of the
worker is the crashing file's failure, and the worker ends when its parent is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from ingest import run
from ingest.read_worker import ReadAhead

ARTICLE = "---\ntitle: {title}\n---\n# {title}\n\n## Steps\n\n1. Restart the {thing}.\n"


def write_kb(root: Path, count: int) -> list[run.ReadJob]:
    root.mkdir()
    jobs = []
    for n in range(count):
        name = f"a{n:02d}.md"
        (root / name).write_text(ARTICLE.format(title=f"Article {n}", thing=f"printer {n}"))
        jobs.append(run.ReadJob("", root, root / name, name))
    return jobs


def reader(ahead: int = 256) -> ReadAhead[run.ReadJob, run.Read]:
    return ReadAhead(partial(run.read_file, options=run.IngestOptions()), run._crashed, ahead)


def failures(got: list[tuple[run.ReadJob, run.Read]]) -> dict[str, str]:
    return {job.rel: read.failure.error for job, read in got if isinstance(read, run.ReadFailed)}


def test_results_come_back_in_order_with_failures_in_place(tmp_path: Path) -> None:
    jobs = write_kb(tmp_path / "kb", 12)
    (tmp_path / "kb" / "a03.md").write_bytes(b"\x00\x01\x02\x03" * 50)
    jobs[7].path.unlink()
    got = []
    with reader(ahead=4) as worker:
        for job in jobs:
            worker.submit(job)
            while worker.full():
                got.append(worker.next())
        while len(worker):
            got.append(worker.next())

    assert [job.rel for job, _ in got] == [job.rel for job in jobs]
    assert set(failures(got)) == {"a03.md", "a07.md"}
    assert "cannot be read" in failures(got)["a07.md"]
    titles = [read[0].title for _, read in got if not isinstance(read, run.ReadFailed)]
    assert titles == [f"Article {n}" for n in range(12) if n not in (3, 7)]


def test_a_file_that_kills_the_worker_is_its_failure(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker is forked, so it runs this patched loader; the test process survives it."""
    real = run.load_article

    def crashing(path: Path, *args: Any) -> Any:
        if path.name == "a02.md":
            os._exit(3)
        return real(path, *args)

    monkeypatch.setattr(run, "load_article", crashing)
    jobs = write_kb(tmp_path / "kb", 5)
    with reader() as worker:
        for job in jobs:
            worker.submit(job)
        got = [worker.next() for _ in jobs]

    assert [job.rel for job, _ in got] == [job.rel for job in jobs]
    assert failures(got) == {"a02.md": "crashed the reader process; not indexed"}
    assert isinstance(got[0][1], tuple) and isinstance(got[4][1], tuple)


@pytest.mark.parametrize("memory_mb", [512, 0])
def test_a_file_that_needs_too_much_memory_is_its_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory_mb: int) -> None:
    """With a cap (KB_READ_MEMORY_MB) a parse that wants 2 GB more fails as that file's
    MemoryError and the worker reads on; without one (0) the same allocation succeeds."""
    real = run.load_article

    def greedy(path: Path, *args: Any) -> Any:
        if path.name == "a01.md":
            hog = bytearray(2048 * 2**20)  # calloc: address space, no resident pages
            del hog
        return real(path, *args)

    monkeypatch.setattr(run, "load_article", greedy)
    jobs = write_kb(tmp_path / "kb", 4)
    options = run.IngestOptions(read_memory_mb=memory_mb)
    with ReadAhead(partial(run.read_file, options=options), run._crashed,
                   memory_mb=memory_mb) as worker:
        for job in jobs:
            worker.submit(job)
        got = [worker.next() for _ in jobs]

    expected = {"a01.md": "could not be read: MemoryError: "} if memory_mb else {}
    assert failures(got) == expected
    assert all(isinstance(read, tuple) for job, read in got if job.rel != "a01.md")


def test_the_worker_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    """A ``kb ingest`` killed with SIGKILL leaves no reader process behind."""
    (job,) = write_kb(tmp_path / "kb", 1)
    script = textwrap.dedent(f"""
        import functools, os, signal, time
        from pathlib import Path
        from ingest import run
        from ingest.read_worker import ReadAhead
        run.load_article = lambda *args: time.sleep(300)
        worker = ReadAhead(functools.partial(run.read_file, options=run.IngestOptions(
            file_timeout_s=0)), run._crashed)
        worker.submit(run.ReadJob("", Path({str(job.root)!r}), Path({str(job.path)!r}), "a"))
        time.sleep(1.0)
        print(*(p.pid for p in worker._pool._processes.values()), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    (pid,) = (int(p) for p in done.stdout.split())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc = Path(f"/proc/{pid}/stat")
    state = proc.read_text().split()[2] if proc.exists() else "gone"
    assert state in ("gone", "Z"), f"worker {pid} still running ({state})"


def test_a_parser_bug_is_logged_with_its_traceback_by_the_main_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    def buggy(path: Path, *args: object) -> object:
        raise RuntimeError("parser bug on line 7")

    monkeypatch.setattr(run, "load_article", buggy)
    (job,) = write_kb(tmp_path / "kb", 1)
    with reader() as worker:
        worker.submit(job)
        got = worker.next()
    scan = run._Scan([("", job.root)], {})
    report = run.IngestReport()
    with caplog.at_level("DEBUG", logger="ingest.run"):
        assert run.accept(*got, scan, report) is None
    assert [(f.path, f.error) for f in report.failed] == [
        ("a00.md", "could not be read: RuntimeError: parser bug on line 7")]
    assert "Traceback" in caplog.text and "parser bug on line 7" in caplog.text
