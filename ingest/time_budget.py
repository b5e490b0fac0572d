"""A per-file time budget for reading articles: a file whose parser runs away (a pathological
PDF, a huge line of text) becomes that file's failure instead of stalling the whole ingest.

It uses ``SIGALRM`` and so applies in the main thread of a POSIX process (where ``kb ingest``
reads files); elsewhere the block runs without a limit.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class OverBudget(BaseException):
    """Raised inside the block when its time is up. A ``BaseException``, so the parsers'
    ``except Exception`` clauses do not swallow it."""


def _applies() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Raise :class:`OverBudget` in the block once ``seconds`` have passed (0: no limit)."""
    if seconds <= 0 or not _applies():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise OverBudget

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
