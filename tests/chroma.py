"""A throwaway ``chroma run`` server for the tests (the chromadb package's own server), on a
free loopback port, stopped at the end even when a test fails.

Used by ``tests/ingest/test_chroma_server.py`` and, with ``KB_TEST_CHROMA=server`` (``make
test-chroma``), by the whole session: every index the tests build then lives in the server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMA = Path(sys.executable).with_name("chroma")


class ChromaDidNotStart(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def chroma_server(folder: Path, timeout_s: float = 60.0) -> Iterator[str]:
    """Run ``chroma run --path FOLDER/db`` on a free port; yields its URL. The log is
    ``FOLDER/server.log``; a server that does not answer its heartbeat in ``timeout_s``
    raises :class:`ChromaDidNotStart` with the log's tail."""
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log_path = folder / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(folder / "db"), "--host", "127.0.0.1",
             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while not _heartbeat(url):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise ChromaDidNotStart("chroma run did not start:\n"
                                            + log_path.read_text()[-2000:])
                time.sleep(0.2)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False
