"""One writer per data dir (core/writer_lock.py): a second ingest while one runs fails at once
naming the first, the lock dies with its holder (even kill -9), and readers never wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import KbError
from core.writer_lock import writer_lock
from kb_cli.main import main
from tests.assistant.helpers import KB_SAMPLES
from tests.env import child_env

HOLD = """
import os, sys, time
from pathlib import Path
from core.writer_lock import writer_lock
data = Path(sys.argv[1])
with writer_lock(data, "ingest"):
    if len(sys.argv) > 2 and os.fork() == 0:  # a child that outlives its parent (read worker)
        (data / "child.pid").write_text(str(os.getpid()))
        time.sleep(600)
        os._exit(0)
    print("held", flush=True)
    time.sleep(600)
"""


def hold_lock(data_dir: Path, fork: bool = False) -> tuple[subprocess.Popen[str], int | None]:
    """Another process holding the writer lock (as a running ``kb ingest`` does), and with
    ``fork`` the pid of a child it forked that is still running (as ingest's read worker)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(data_dir),
                             *(["fork"] if fork else [])], text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=child_env(),
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None and proc.stderr is not None
    if proc.stdout.readline().strip() != "held":
        proc.kill()
        pytest.fail(f"the lock holder did not start: {proc.stderr.read()}")
    child = None
    deadline = time.monotonic() + 30
    while fork and child is None:
        pid_file = data_dir / "child.pid"
        if pid_file.exists() and pid_file.read_text():
            child = int(pid_file.read_text())
        assert time.monotonic() < deadline, "the holder's child did not start"
        time.sleep(0.01)
    return proc, child


def test_a_second_writer_fails_at_once_naming_the_first(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    data = tmp_path / "d"
    holder, _ = hold_lock(data)
    try:
        started = time.monotonic()
        for argv in (["ingest", str(tmp_path / "none")], ["promote", "--force"],
                     ["rollback"], ["calibrate"], ["restore", str(tmp_path / "backup")]):
            assert main([*argv, "--data-dir", str(data)]) == 2
            err = capsys.readouterr().err
            assert f"kb ingest (pid {holder.pid}) is writing to this data dir" in err, err
        assert time.monotonic() - started < 30  # refused, not queued behind the holder
        assert not (data / "indexes").exists()  # nothing was written
        # readers do not take the lock
        main(["status", "--data-dir", str(data)])
        assert "writing to this data dir" not in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("fork", [False, True], ids=["alone", "with-a-forked-child"])
def test_the_lock_dies_with_its_holder_even_on_kill_9(tmp_path: Path, fork: bool) -> None:
    """Also when the holder forked a child that is still running (ingest's read worker): the
    child does not inherit the lock, so a repair run after ``kill -9`` is not refused."""
    data = tmp_path / "d"
    holder, child = hold_lock(data, fork)
    try:
        with pytest.raises(KbError, match="is writing to this data dir"), \
                writer_lock(data, "sync"):
            pass
        holder.kill()  # SIGKILL: no cleanup runs; the child (if any) goes on running
        holder.wait()
        if child is not None:
            os.kill(child, 0)  # still alive
        with writer_lock(data, "ingest"):
            assert (data / "writer.lock").read_text() == f"kb ingest (pid {os.getpid()})\n"
        assert (data / "writer.lock").read_text() == ""
    finally:
        holder.kill()
        if child is not None:
            os.kill(child, signal.SIGKILL)


def test_writers_run_one_after_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    data = str(tmp_path / "d")
    assert main(["ingest", str(KB_SAMPLES), "--data-dir", data, "--json"]) == 0
    assert main(["ingest", str(KB_SAMPLES), "--data-dir", data, "--json"]) == 0
    assert "writing to this data dir" not in capsys.readouterr().err
