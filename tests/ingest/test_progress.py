"""``terminal_progress``: plain lines on a log (every 10 s and at the end), tqdm on a terminal."""

from __future__ import annotations

import io

import pytest

from ingest.run import terminal_progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run(progress_calls: list[tuple[int, int, float]], label: str, unit: str = "files",
        ) -> list[str]:
    """Lines printed for ``(done, total, seconds since start)`` calls, off a terminal."""
    clock, log = FakeClock(), io.StringIO()
    progress = terminal_progress(label, unit, clock=clock, stream=log)
    for done, total, seconds in progress_calls:
        clock.now = 100.0 + seconds
        progress(done, total)
    return log.getvalue().splitlines()


def test_a_line_every_ten_seconds_and_at_the_end() -> None:
    calls = [(1, 811, 0.5), (2, 811, 4.0), (120, 811, 10.5), (121, 811, 19.0),
             (300, 811, 20.5), (301, 811, 29.0), (811, 811, 29.5)]
    assert run(calls, "ingest") == [
        "ingest: 120/811 files (14%), 10 s",
        "ingest: 300/811 files (36%), 20 s",  # 10 s after the last line, not after 120/811
        "ingest: 811/811 files (100%), 30 s",
    ]


def test_a_slow_step_gets_a_line_at_the_next_call() -> None:
    assert run([(1, 3, 0.0), (2, 3, 45.0), (3, 3, 46.0)], "ingest") == [
        "ingest: 2/3 files (66%), 45 s", "ingest: 3/3 files (100%), 46 s"]


def test_a_run_shorter_than_ten_seconds_prints_nothing() -> None:
    assert run([(1, 2, 1.0), (2, 2, 9.9)], "ingest") == []


def test_the_label_has_its_own_unit() -> None:
    assert run([(1, 40, 3.0), (40, 40, 12.0)], "eval", "questions") == [
        "eval: 40/40 questions (100%), 12 s"]


def test_stderr_is_the_default_stream(capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    progress = terminal_progress("ingest", clock=clock)
    clock.now += 10
    progress(2, 2)
    assert capsys.readouterr() == ("", "ingest: 2/2 files (100%), 10 s\n")


def test_a_terminal_gets_a_tqdm_bar_with_the_unit() -> None:
    terminal = io.StringIO()
    terminal.isatty = lambda: True  # type: ignore[method-assign]
    progress = terminal_progress("eval", "questions", stream=terminal)
    progress(1, 4)
    progress(4, 4)
    shown = terminal.getvalue()
    assert "eval: 100%" in shown and "4/4" in shown and "questions/s" in shown
    assert "file" not in shown
