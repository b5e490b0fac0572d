"""``kb flags`` and ``kb review`` end to end, in-process, on a small KB written for the test.

The workflow of the issue: flag, dismiss, re-ingest unchanged (stays dismissed), change the
article (re-opened), fix the cause (becomes fixed); plus acknowledge, mark reviewed, filters,
JSON shape and the HTML report. The hashing embedder stands in for the model (KB_EMBEDDER).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.paths import state_db
from core.store import state as state_store
from core.store.flag_states import history
from kb_cli.main import main
from tests.env import clean_kb_env

AS_OF = "2026-11-25"
BODY = ("## Symptoms\n\nThe office printer shows Offline on every laptop on the second floor "
        "and print jobs stay in the queue until somebody restarts the spooler service.\n\n"
        "## Resolution\n\n1. Open Settings > Bluetooth & devices > Printers & scanners.\n"
        "2. Select the printer, open the print queue and cancel every job.\n"
        "3. Restart the Print Spooler service and send a test page to the printer.\n")
QUEUE = ("## Issue\n\nA badge-release job never appears at the multifunction device although "
         "the user printed to the FollowMe queue more than ten minutes ago from a laptop.\n\n"
         "## Resolution\n\n1. Check the user is signed in to the PaperCut client.\n"
         "2. Ask the user to tap the badge again and wait for the job list.\n"
         "3. See [toner](toner.md) if the device reports a supply warning instead.\n")
TONER = ("## Overview\n\nEach multifunction device orders its own toner when a cartridge "
         "drops below ten percent, and facilities fit the new cartridge within one working "
         "day.\n\n## Steps\n\n1. Check the device display for the toner level.\n2. Raise a "
         "facilities ticket only if the device shows empty for more than a day.\n3. Never "
         "order cartridges from an outside supplier, because the lease covers them.\n")


def data() -> str:
    """The data dir, absolute: Chroma caches clients by path, and each test has its own cwd."""
    return str(Path.cwd() / "data")


@pytest.fixture
def kb_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    clean_kb_env(monkeypatch)
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "kb"
    write(root, "printing/offline.md", "2024-01-10")
    write(root, "printing/queue.md", "2026-10-01", QUEUE)
    return root


def write(root: Path, rel: str, reviewed: str, body: str = BODY) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ntitle: {Path(rel).stem}\nowner: pat@n.example\n"
                    f"last_reviewed: {reviewed}\n---\n# {Path(rel).stem}\n\n{body}",
                    encoding="utf-8")


def ingest(root: Path) -> None:
    assert main(["ingest", str(root), "--data-dir", data(), "--as-of", AS_OF, "--json"]) == 0


def flags(capsys, *extra: str) -> list[dict]:
    capsys.readouterr()
    assert main(["flags", "--data-dir", data(), "--as-of", AS_OF, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def states(capsys, *extra: str) -> dict[tuple[str, str], str]:
    return {(f["article_id"], f["kind"]): f["state"] for f in flags(capsys, *extra)}


def test_flag_dismiss_reingest_change_fix(kb_dir: Path, capsys):
    ingest(kb_dir)
    listed = flags(capsys)
    assert set(listed[0]) == {"article_id", "kind", "severity", "reason", "evidence", "state"}
    assert states(capsys) == {("printing/offline.md", "stale"): "open",
                              ("printing/queue.md", "broken-link"): "open"}
    stale = next(f for f in listed if f["kind"] == "stale")
    assert stale["evidence"]["last_reviewed"] == "2024-01-10"

    assert main(["review", "printing/offline.md", "--dismiss", "checked, still right",
                 "--flag", "stale", "--by", "alice", "--data-dir", data(), "--as-of",
                 AS_OF]) == 0
    assert states(capsys) == {("printing/queue.md", "broken-link"): "open"}
    assert states(capsys, "--state", "dismissed") == {("printing/offline.md", "stale"):
                                                      "dismissed"}

    ingest(kb_dir)  # unchanged
    assert states(capsys, "--state", "all")[("printing/offline.md", "stale")] == "dismissed"

    write(kb_dir, "printing/offline.md", "2024-01-10", BODY + "\nAlso check the cable.\n")
    ingest(kb_dir)  # changed: re-opened
    assert states(capsys)[("printing/offline.md", "stale")] == "open"

    write(kb_dir, "printing/offline.md", "2026-11-01", BODY + "\nAlso check the cable.\n")
    write(kb_dir, "printing/toner.md", "2026-11-01", TONER)
    ingest(kb_dir)  # causes fixed
    assert states(capsys, "--state", "fixed") == {("printing/offline.md", "stale"): "fixed",
                                                  ("printing/queue.md", "broken-link"): "fixed"}
    assert states(capsys) == {}

    conn = state_store.connect(state_db(Path.cwd() / "data"))
    trail = [(e["by"], e["from_state"], e["to_state"], e["note"])
             for e in history(conn, "printing/offline.md")]
    assert trail == [("kb", None, "open", "detected"),
                     ("alice", "open", "dismissed", "checked, still right"),
                     ("kb", "dismissed", "open", "article changed since it was dismissed"),
                     ("kb", "open", "fixed", "cause gone at ingest")]


def test_acknowledge_and_mark_reviewed(kb_dir: Path, capsys):
    ingest(kb_dir)
    assert kb_cmd("review", "printing/queue.md", "--ack", "--by", "bob") == 0
    assert states(capsys, "--state", "acknowledged") == {("printing/queue.md", "broken-link"):
                                                         "acknowledged"}
    assert kb_cmd("review", "printing/offline.md", "--reviewed", "--by", "carol") == 0
    assert capsys.readouterr().out == ("printing/offline.md: marked reviewed on 2026-11-25 by "
                                       "carol; stale (review-age) open -> fixed\n")
    assert ("printing/offline.md", "stale") not in states(capsys)
    ingest(kb_dir)  # the file still says 2024-01-10: kb's review date wins
    assert ("printing/offline.md", "stale") not in states(capsys)
    assert states(capsys, "--state", "fixed") == {("printing/offline.md", "stale"): "fixed"}


def test_as_of_filters_and_text_output(kb_dir: Path, capsys):
    ingest(kb_dir)
    assert states(capsys, "--kind", "stale") == {("printing/offline.md", "stale"): "open"}
    assert states(capsys, "--owner", "PAT@n.example") != {}
    assert states(capsys, "--owner", "none") == {}
    capsys.readouterr()
    assert main(["flags", "--data-dir", data(), "--as-of", "2024-06-01", "--kind", "stale"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("0 flags as of 2024-06-01")
    assert main(["flags", "--data-dir", data(), "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "2 flags as of 2026-11-25 (0 high, 2 medium, 0 low)"
    assert "stale                   open         printing/offline.md" in out


def test_report_file(kb_dir: Path, capsys, tmp_path: Path):
    ingest(kb_dir)
    assert kb_cmd("flags", "--report", "health.html") == 0
    html = (tmp_path / "health.html").read_text(encoding="utf-8")
    assert "KB health report" in html and "<svg" in html
    command = f"kb flags --data-dir {tmp_path / 'data'} --as-of 2026-11-25 --report health.html"
    assert command in html
    assert html.index("printing/offline.md") > 0


def test_review_errors_are_one_clear_line(kb_dir: Path, capsys):
    ingest(kb_dir)
    capsys.readouterr()
    assert kb_cmd("review", "nope.md", "--ack") == 2
    assert "no article 'nope.md' in the index" in capsys.readouterr().err
    assert kb_cmd("review", "printing/offline.md", "--ack", "--flag", "duplicate") == 2
    assert ("printing/offline.md: no duplicate flag is open or acknowledged, so there is nothing "
            "to acknowledge") in capsys.readouterr().err


def test_flags_without_an_index(tmp_path: Path, kb_dir: Path, capsys):
    assert main(["flags", "--data-dir", str(tmp_path / "empty")]) == 2
    assert "run 'kb ingest' first" in capsys.readouterr().err


def kb_cmd(*args: str) -> int:
    return main([*args, "--data-dir", data(), "--as-of", AS_OF])
