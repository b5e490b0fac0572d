"""Two owners acting on one flag at the same instant from two processes (two ``kb serve``
instances): the flag's history records each real change once, never the same change twice."""

from __future__ import annotations

import threading
from pathlib import Path

from core.store import state as state_store
from core.store.flag_states import change_state, history
from core.types import Flag

FLAG = Flag("a.md", "stale", "medium", "last reviewed long ago", {"key": "review-age"})
ROUNDS, ACTORS = 15, 6


def test_concurrent_identical_changes_are_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    state_store.connect(path).close()  # created and migrated once
    barrier = threading.Barrier(ACTORS)
    errors: list[BaseException] = []

    def actor(number: int) -> None:
        conn = state_store.connect(path)  # a connection of its own, as another process has
        try:
            for round_ in range(ROUNDS):
                to = "acknowledged" if round_ % 2 == 0 else "open"
                barrier.wait()
                change_state(conn, [FLAG], to, f"owner-{number}", None, "h1")
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
            barrier.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=actor, args=(n,)) for n in range(ACTORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    conn = state_store.connect(path)
    try:
        events = [(e["from_state"], e["to_state"]) for e in history(conn, "a.md")]
    finally:
        conn.close()
    # each round changes the state once: the first actor's write is the change, the others
    # find the state already there and record nothing
    assert len(events) == ROUNDS, events
    assert all(a != b for a, b in events)
