"""One writer per data dir: ``kb ingest``, ``sync``, ``import``, ``promote``, ``rollback``,
``calibrate`` and ``restore`` hold an exclusive lock on ``DATA_DIR/writer.lock`` while they run
(``kb_cli.main.WRITERS``).

Two ingests at once would both write the live index (interleaved batches, BM25 and
``vectors.npz`` rebuilt from different catalogs) and could promote under each other. The lock
is a POSIX record lock (``lockf``): the kernel drops it when the process ends, however it
ends (``kill -9`` included), so a stale lock never blocks the next run; unlike ``flock`` it is
not inherited by forked children (ingest's read worker outlives a killed parent for a moment:
with ``flock`` it kept the lock and the repair run was refused). Such locks belong to the
process, so one process takes it once (``kb_cli.main`` does, around the command). A second
writer fails at once with the holder's pid and command instead of waiting; readers (``kb
serve``, ``kb ask``) never take it.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import KbError
from core.paths import private_dir

LOCK_FILE = "writer.lock"


@contextmanager
def writer_lock(data_dir: Path, command: str) -> Iterator[None]:
    """Hold the data dir's writer lock for the block; :class:`KbError` naming the holder when
    another process has it."""
    private_dir(data_dir)
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another kb"
            raise KbError(f"{data_dir}: {holder} is writing to this data dir; wait for it to "
                          f"finish (one writer at a time: {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"kb {command} (pid {os.getpid()})\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the lock
