"""Work done in one worker process, ahead of the caller, results taken back in order.

``kb ingest`` spends most of its time embedding (the model, in the main process) and the rest
reading files (``load_article`` + ``chunk_article``, single-threaded). ``ingest/run.py``
reads in a :class:`ReadAhead` while it embeds the previous batch and takes the results back
in the order the files were given, so every write stays in the main process, in the order
of a serial run. The worker is forked at the first item (in ``kb ingest``, before the model
is loaded): it starts in milliseconds, runs the caller's function as the caller sees it, and
does its work in its main thread, so ``SIGALRM`` time budgets apply there. An item that kills
the worker gets ``on_crash(item)`` as its result and a new worker takes the items after it.
The worker ends when the process that started it dies (a killed ``kb ingest``). With
``memory_mb`` its address space is capped at its size when forked plus that much, so a file
whose parsing would take the machine's memory raises MemoryError in the worker (the caller's
function reports it as that item's failure) instead of waking the kernel's OOM killer.

    with ReadAhead(partial(read_file, limits=limits), on_crash=crashed) as reader:
        reader.submit(job)
        job, result = reader.next()
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")
#: items submitted ahead of the one taken back: enough to keep the worker busy while the
#: caller embeds a batch (256 chunks, ~25 articles, some seconds)
AHEAD = 256


def cap_memory(extra_mb: int) -> None:
    """Cap this process's address space at its current size plus ``extra_mb`` (never above
    a hard limit already set)."""
    with open("/proc/self/statm") as fh:
        size = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = size + extra_mb * 2**20
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _worker_started(parent: int, memory_mb: int = 0) -> None:
    """In the worker: Ctrl-C is the parent's to handle, and the worker ends with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_mb > 0:
        cap_memory(memory_mb)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


class ReadAhead(Generic[Item, Result]):
    """``work(item)`` in one worker process, up to ``ahead`` items ahead, results in order."""

    def __init__(self, work: Callable[[Item], Result], on_crash: Callable[[Item], Result],
                 ahead: int = AHEAD, memory_mb: int = 0) -> None:
        self.work = work
        self.on_crash = on_crash
        self.ahead = ahead
        self.memory_mb = memory_mb
        self._pool: ProcessPoolExecutor | None = None
        self._sent: deque[tuple[Item, Future[Result]]] = deque()

    def __len__(self) -> int:
        return len(self._sent)

    def full(self) -> bool:
        return len(self._sent) >= self.ahead

    def submit(self, item: Item) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, multiprocessing.get_context("fork"),
                                             initializer=_worker_started,
                                             initargs=(os.getpid(), self.memory_mb))
        self._sent.append((item, self._pool.submit(self.work, item)))

    def next(self) -> tuple[Item, Result]:
        """The oldest submitted item and its result (waits for it)."""
        item, future = self._sent.popleft()
        try:
            return item, future.result()
        except BrokenProcessPool:
            # items run one at a time, in order: the worker died on this one. It gets
            # on_crash's result; a new worker takes the items after it
            log.warning("the worker process died on %s", item)
            rest = [other for other, _ in self._sent]
            self.close()
            for other in rest:
                self.submit(other)
            return item, self.on_crash(item)

    def close(self) -> None:
        """Stop the worker: queued items are dropped, the running one is waited for."""
        for _, future in self._sent:
            future.cancel()
        self._sent.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ReadAhead[Item, Result]:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
