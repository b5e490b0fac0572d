"""A KB update that removes a question's gold article: scored as a miss, refused by the gate.

Before, ``kb eval --baseline`` stopped with a dataset validation error (exit 2) instead of
reporting the lost coverage as a regression.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.gate import compare, lost_gold
from kb_cli.main import main
from tests.env import clean_kb_env

ARTICLES = {
    "vpn.md": ("VPN password reset", "Open the VPN portal and choose Reset password."),
    "printer.md": ("Printer offline", "Restart the print spooler service on the PC."),
    "outlook.md": ("Outlook add-in disabled", "Enable the add-in under File, Options."),
    "wifi.md": ("Guest Wi-Fi access", "Ask reception for a guest Wi-Fi voucher code."),
}
QUESTIONS = [
    {"id": "q-vpn", "question": "reset my VPN password", "answerable": True,
     "gold_articles": ["vpn.md"]},
    {"id": "q-printer", "question": "printer offline spooler", "answerable": True,
     "gold_articles": ["printer.md"]},
    {"id": "q-outlook", "question": "outlook add-in disabled", "answerable": True,
     "gold_articles": ["outlook.md"]},
    {"id": "q-none", "question": "parking permit renewal", "answerable": False,
     "gold_articles": []},
]


@pytest.fixture(autouse=True)
def hashing_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_kb_env(monkeypatch)
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    monkeypatch.chdir(tmp_path)


def write_kb(folder: Path) -> Path:
    folder.mkdir()
    for name, (title, text) in ARTICLES.items():
        (folder / name).write_text(f"---\ntitle: {title}\nowner: a@example.com\n---\n"
                                   f"# {title}\n\n## Resolution\n\n{text}\n")
    return folder


def run_eval(tmp_path: Path, out: str, *extra: str) -> int:
    return main(["eval", str(tmp_path / "questions.jsonl"), "--data-dir", str(tmp_path / "d"),
                 "--as-of", "2026-11-25", "--out", str(tmp_path / out), *extra])


def test_a_removed_gold_article_is_scored_as_a_miss_and_fails_the_gate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    kb = write_kb(tmp_path / "kb")
    (tmp_path / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in QUESTIONS))
    assert main(["ingest", str(kb), "--data-dir", str(tmp_path / "d"), "--json"]) == 0
    assert run_eval(tmp_path, "before") == 0
    before = json.loads((tmp_path / "before" / "report.json").read_text())
    assert before["coverage"]["missing_gold"] == []

    (kb / "vpn.md").unlink()
    assert main(["ingest", str(kb), "--data-dir", str(tmp_path / "d"), "--json"]) == 0
    capsys.readouterr()
    assert run_eval(tmp_path, "after", "--baseline",
                    str(tmp_path / "before" / "report.json")) == 1
    err = capsys.readouterr().err
    assert "gold article no longer in the KB: q-vpn (vpn.md)" in caplog.text
    assert "REGRESSION coverage.missing_gold: 0.0000 -> 1.0000" in err
    after = json.loads((tmp_path / "after" / "report.json").read_text())
    assert after["coverage"]["missing_gold"] == [
        {"id": "q-vpn", "articles": ["vpn.md"], "reason": "gold article no longer in the KB"}]
    row = next(r for r in after["per_question"] if r["id"] == "q-vpn")
    assert row["note"] == "gold article no longer in the KB"
    assert row["recall@10"] == 0 and row["mrr@10"] == 0  # counted as a miss
    assert len(after["per_question"]) == len(QUESTIONS)
    assert not after["gate"]["passed"]
    assert [r["metric"] for r in after["gate"]["regressions"]][-1] == "coverage.missing_gold"


def test_without_a_baseline_missing_gold_ids_are_a_warning_not_an_error(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    kb = write_kb(tmp_path / "kb")
    questions = [*QUESTIONS, {"id": "q-typo", "question": "guest wifi", "answerable": True,
                              "gold_articles": ["wiif.md"]}]
    (tmp_path / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in questions))
    assert main(["ingest", str(kb), "--data-dir", str(tmp_path / "d"), "--json"]) == 0
    caplog.clear()
    assert run_eval(tmp_path, "r") == 0
    assert [(r.levelname, r.getMessage()) for r in caplog.records
            if "no longer in the KB" in r.getMessage()] == [
        ("WARNING", "1 question(s) scored as misses, gold article no longer in the KB: "
                    "q-typo (wiif.md)")]
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [m["id"] for m in report["coverage"]["missing_gold"]] == ["q-typo"]


def test_the_gate_flags_only_newly_missing_gold() -> None:
    def rep(missing: list[str]) -> dict:
        return {"coverage": {"missing_gold": [{"id": q} for q in missing]},
                "per_question": [{"id": q, "answerable": True} for q in ("q1", "q2", "q3")]}

    assert lost_gold(rep(["q1"]), rep(["q1", "q3"])) == ("q3",)
    assert lost_gold(rep(["q1"]), rep(["q1"])) == ()
    assert compare(rep([]), rep(["q2"]))[0].flipped == ("q2",)
    assert compare(rep(["q2"]), rep([])) == []
