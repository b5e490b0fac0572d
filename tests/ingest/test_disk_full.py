"""``kb ingest`` on a full disk (issue 11): one line saying so (exit 2), the index it had still
answers, and once there is room again the next ingest completes.

A real full disk: a 3 MB tmpfs, which only root may mount (skipped otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "KB_EMBEDDER": "hashing"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def kb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kb_cli.main", *args], capture_output=True,
                          text=True, env=ENV, cwd=ROOT, timeout=300, check=False)


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_loses_nothing(small_disk: Path, tmp_path: Path) -> None:
    data = small_disk / "data"
    source = tmp_path / "kb"
    shutil.copytree(ROOT / "kb_samples", source)
    assert kb("ingest", str(source), "--data-dir", str(data)).returncode == 0
    before = kb("ask", "VPN error 809 at a hotel", "--data-dir", str(data))
    assert before.returncode == 0 and "809" in before.stdout

    article = (source / "network" / "vpn-cannot-connect.md").read_text()
    for n in range(40):
        (source / "network" / f"copy-{n}.md").write_text(article.replace("# ", f"# Copy {n} ", 1))
    free = shutil.disk_usage(small_disk).free
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (free - 150_000))

    full = kb("ingest", str(source), "--data-dir", str(data))
    assert full.returncode == 2, full.stderr[-2000:]
    assert full.stderr.count("\n") == 1 and full.stderr.startswith("kb ingest: the disk is full")
    assert "free space, then run it again" in full.stderr
    after = kb("ask", "VPN error 809 at a hotel", "--data-dir", str(data))
    assert after.returncode == 0 and after.stdout == before.stdout

    filler.unlink()
    subprocess.run(["mount", "-o", "remount,size=50m", str(small_disk)], check=True)
    again = kb("ingest", str(source), "--data-dir", str(data), "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    report = json.loads(again.stdout)
    assert report["articles"] == 90 and report["failed"] == []
