"""One writer per data dir (core/writer_lock.py): a second ingest while one runs fails at once
naming the first, the lock dies with its holder (even kill -9), and readers never wait."""

from __future__ import annotations

import os
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
import sys, time
from pathlib import Path
from core.writer_lock import writer_lock
with writer_lock(Path(sys.argv[1]), "ingest"):
    print("held", flush=True)
    time.sleep(600)
"""


def hold_lock(data_dir: Path) -> subprocess.Popen[str]:
    """Another process holding the writer lock (as a running ``kb ingest`` does)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(data_dir)], text=True,
                            stdout=subprocess.PIPE, env=child_env(),
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
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


def test_the_lock_dies_with_its_holder_even_on_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "d"
    holder = hold_lock(data)
    with pytest.raises(KbError, match="is writing to this data dir"), writer_lock(data, "sync"):
        pass
    holder.kill()  # SIGKILL: no cleanup runs
    holder.wait()
    with writer_lock(data, "ingest"):
        assert (data / "writer.lock").read_text() == f"kb ingest (pid {os.getpid()})\n"
    assert (data / "writer.lock").read_text() == ""


def test_writers_run_one_after_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    data = str(tmp_path / "d")
    assert main(["ingest", str(KB_SAMPLES), "--data-dir", data, "--json"]) == 0
    assert main(["ingest", str(KB_SAMPLES), "--data-dir", data, "--json"]) == 0
    assert "writing to this data dir" not in capsys.readouterr().err
