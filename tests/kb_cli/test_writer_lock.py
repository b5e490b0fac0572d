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
with writer_lock(Path(sys.argv[1]), "ingest"):
    if len(sys.argv) > 2 and os.fork() == 0:  # a child that outlives its parent (read worker)
        print(f"child {os.getpid()}", flush=True)
        time.sleep(600)
        os._exit(0)
    print("held", flush=True)
    time.sleep(600)
"""


def hold_lock(data_dir: Path, fork: bool = False) -> subprocess.Popen[str]:
    """Another process holding the writer lock (as a running ``kb ingest`` does); ``fork``:
    with a forked child still running after it (as ingest's read worker)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(data_dir),
                             *(["fork"] if fork else [])], text=True,
                            stdout=subprocess.PIPE, env=child_env(),
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None
    lines = {proc.stdout.readline().split()[0] for _ in range(2 if fork else 1)}
    assert lines == ({"held", "child"} if fork else {"held"})
    return proc


def test_a_second_writer_fails_at_once_naming_the_first(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    data = tmp_path / "d"
    holder = hold_lock(data)
    try:
        started = time.monotonic()
        for argv in (["ingest", str(tmp_path / "none")], ["promote", "--force"],
                     ["rollback"], ["calibrate"]):
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
    holder = hold_lock(data, fork)
    children = [int(p) for p in subprocess.run(["pgrep", "-P", str(holder.pid)], text=True,
                                               capture_output=True).stdout.split()]
    with pytest.raises(KbError, match="is writing to this data dir"), writer_lock(data, "sync"):
        pass
    holder.kill()  # SIGKILL: no cleanup runs
    holder.wait()
    try:
        assert len(children) == int(fork)
        with writer_lock(data, "ingest"):
            assert (data / "writer.lock").read_text() == f"kb ingest (pid {os.getpid()})\n"
        assert (data / "writer.lock").read_text() == ""
    finally:
        for child in children:
            os.kill(child, signal.SIGKILL)


def test_writers_run_one_after_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    data = str(tmp_path / "d")
    assert main(["ingest", str(KB_SAMPLES), "--data-dir", data, "--json"]) == 0
    assert main(["ingest", str(KB_SAMPLES), "--data-dir", data, "--json"]) == 0
    assert "writing to this data dir" not in capsys.readouterr().err
