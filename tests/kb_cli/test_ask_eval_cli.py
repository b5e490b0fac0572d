"""``kb ask``, ``kb gaps``, ``kb eval`` (with its gate), ``kb promote`` and ``kb rollback``,
run through ``kb_cli.main.main`` on real indexes."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from core.paths import read_pointer
from ingest.embed import HashingEmbedder
from ingest.staging import create_stage
from kb_cli.main import main
from tests.assistant.chat_server import chat_server
from tests.assistant.helpers import (
    PRINTER_ARTICLES,
    RESTRICTED,
    SAMPLES_DATASET,
    build_hashing_kb,
    ingest_into,
    write_articles,
)

RESTRICTED_TITLES = {
    "security/phishing-incident-response.md":
        "Phishing incident response runbook (user clicked or entered credentials)",
    "accounts/privileged-access-request.md":
        "Requesting privileged (admin) access and PIM role activation",
    "network/firewall-change-request.md": "Processing firewall rule change requests",
    "onboarding/leaver-process-confidential.md":
        "Confidential and same-day exits - IT actions for HR",
}


def kb(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# --- kb ask ---------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.usefixtures("real_model_cli")
@pytest.mark.parametrize("article_id", list(RESTRICTED))
def test_kb_ask_without_groups_sees_only_public_articles(
        capsys: pytest.CaptureFixture[str], sample_kb: Path, article_id: str) -> None:
    title = RESTRICTED_TITLES[article_id]
    common = ["ask", title, "--data-dir", str(sample_kb), "--as-of", "2026-11-25"]

    code, out, _ = kb(capsys, *common, "--json")
    shown = json.loads(out)
    assert code == 0
    assert not {c["article_id"] for c in shown["citations"]} & set(RESTRICTED)
    assert not {r["article_id"] for r in shown["related"]} & set(RESTRICTED)
    code, out, _ = kb(capsys, *common)
    assert code == 0
    assert not any(a in out or t in out for a, t in RESTRICTED_TITLES.items())

    code, out, _ = kb(capsys, *common, "--groups", f" {RESTRICTED[article_id]} ,other", "--json")
    assert json.loads(out)["citations"][0]["article_id"] == article_id


@pytest.mark.integration
@pytest.mark.usefixtures("real_model_cli")
def test_kb_ask_prints_the_answer_sources_and_confidence(
        capsys: pytest.CaptureFixture[str], sample_kb: Path) -> None:
    code, out, _ = kb(capsys, "ask", "guest wifi for visitors", "--data-dir", str(sample_kb),
                      "--as-of", "2026-11-25")
    assert code == 0
    assert "\nSources:\n  [1] Guest Wi-Fi access for visitors - " in out
    assert "(network/wifi-guest-access.txt; reviewed 2024-08-14)  [STALE]" in out
    assert "\nWarning: [1] cites an article that may be out of date" in out
    assert re.fullmatch(r"confidence [01]\.\d\d", out.rstrip().splitlines()[-1])


def test_kb_ask_uses_the_configured_llm_and_kb_gaps_lists_what_was_declined(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    data = build_hashing_kb(tmp_path)
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    with chat_server() as server:
        server.reply = "Open tray 2 and remove the creased sheets [1]."
        monkeypatch.setenv("KB_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("KB_ABSTAIN_THRESHOLD", "0")
        code, out, _ = kb(capsys, "ask", "paper jam in tray 2", "--data-dir", str(data))
        assert code == 0
        assert out.startswith("Open tray 2 and remove the creased sheets [1].\n\nSources:\n"
                              "  [1] Printer reports a paper jam")
        assert len(server.requests) == 1

        monkeypatch.setenv("KB_ABSTAIN_THRESHOLD", "1.01")  # nothing is confident enough
        code, out, _ = kb(capsys, "ask", "sourdough recipe", "--data-dir", str(data), "--json")
        assert (code, json.loads(out)["answered"], len(server.requests)) == (0, False, 1)

    code, out, _ = kb(capsys, "gaps", "--data-dir", str(data), "--json")
    assert [(g["topic"], g["count"]) for g in json.loads(out)] == [("sourdough recipe", 1)]
    code, out, _ = kb(capsys, "gaps", "--data-dir", str(data))
    assert out == "   1  sourdough recipe\n"


def test_kb_ask_on_a_missing_index_is_one_clear_line(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    code, out, err = kb(capsys, "ask", "vpn", "--data-dir", str(tmp_path / "nothing"))
    assert (code, out) == (2, "")
    assert err.startswith("kb ask: no index at ") and err.endswith("run 'kb ingest' first\n")


# --- kb eval and its gate -------------------------------------------------------------------

GATE_SET = [
    {"id": "gate-cert", "question": "VPN gateway certificate change on 15 June, what do users "
     "need to do", "answerable": True,
     "gold_articles": ["network/vpn-certificate-change-june-2026.md"]},
    {"id": "gate-809", "question": "error 809 vpn", "answerable": True,
     "gold_articles": ["network/vpn-cannot-connect.md"]},
    {"id": "gate-guest", "question": "guest wifi for visitors", "answerable": True,
     "gold_articles": ["network/wifi-guest-access.txt"]},
    {"id": "gate-none", "question": "what is the recipe for sourdough bread",
     "answerable": False, "gold_articles": []},
]


@pytest.mark.integration
@pytest.mark.usefixtures("real_model_cli")
def test_kb_eval_writes_reports_and_passes_against_its_own_baseline(
        capsys: pytest.CaptureFixture[str], sample_kb: Path, tmp_path: Path) -> None:
    common = [str(SAMPLES_DATASET), "--data-dir", str(sample_kb), "--as-of", "2026-11-25",
              "--limit", "4"]
    argv = ["eval", *common, "--out", str(tmp_path / "first")]
    code, out, _ = kb(capsys, *argv)
    assert code == 0
    report = json.loads((tmp_path / "first" / "report.json").read_text())
    assert report["command"] == "kb " + shlex.join(argv)  # reproduces this very run
    assert out.splitlines()[2] == f"Command: `kb {shlex.join(argv)}`"
    assert [r["id"] for r in report["per_question"]] == ["kbs-001", "kbs-002", "kbs-003",
                                                          "kbs-004"]
    assert report["gate"] == {"compared_to": None, "max_drop": 0.02, "passed": True,
                              "regressions": []}
    assert (tmp_path / "first" / "report.html").exists()
    assert out.startswith(f"# Eval: {SAMPLES_DATASET}")

    baseline = tmp_path / "first" / "report.json"
    code, out, err = kb(capsys, "eval", *common, "--baseline", str(baseline), "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["gate"]["passed"] is True


@pytest.mark.integration
@pytest.mark.usefixtures("real_model_cli")
def test_kb_eval_exits_1_when_a_metric_regresses_and_names_the_flipped_questions(
        capsys: pytest.CaptureFixture[str], sample_kb: Path, tmp_path: Path) -> None:
    dataset = write_jsonl(tmp_path / "gate.jsonl", GATE_SET)
    common = [str(dataset), "--data-dir", str(sample_kb), "--json"]
    # in June the certificate notice is valid and found; by November it has expired
    code, _, _ = kb(capsys, "eval", *common, "--as-of", "2026-06-10", "--out",
                    str(tmp_path / "june"))
    assert code == 0
    june = json.loads((tmp_path / "june" / "report.json").read_text())
    assert june["per_question"][0]["recall@1"] == 1.0

    code, out, err = kb(capsys, "eval", *common, "--as-of", "2026-11-25", "--baseline",
                        str(tmp_path / "june" / "report.json"))
    assert code == 1
    gate = json.loads(out)["gate"]
    assert gate["passed"] is False
    by_metric = {r["metric"]: r for r in gate["regressions"]}
    assert {"retrieval.recall@1", "retrieval.recall@10", "retrieval.mrr@10"} <= set(by_metric)
    recall1 = by_metric["retrieval.recall@1"]
    assert recall1["before"] == june["retrieval"]["recall@1"]
    assert recall1["after"] < recall1["before"] - 0.02
    assert "gate-cert" in recall1["flipped"]
    assert by_metric["retrieval.recall@10"]["flipped"] == ["gate-cert"]
    assert (f"REGRESSION retrieval.recall@1: {recall1['before']:.4f} -> "
            f"{recall1['after']:.4f}; questions that flipped: ") in err
    assert err.count("REGRESSION ") == len(gate["regressions"])


def test_kb_eval_with_a_missing_baseline_is_an_error(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    data = build_hashing_kb(tmp_path)
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    dataset = write_jsonl(tmp_path / "set.jsonl", PRINTER_SET)
    code, _, err = kb(capsys, "eval", str(dataset), "--data-dir", str(data), "--json",
                      "--baseline", str(tmp_path / "nope.json"))
    assert code == 2
    assert err == f"kb eval: {tmp_path / 'nope.json'}: baseline report not found\n"


# --- staging through the CLI (hashing embedder: no model needed) ---------------------------

PRINTER_SET = [
    {"id": "h-jam", "question": "paper jam in tray 2", "answerable": True,
     "gold_articles": ["printing/paper-jam.md"]},
    {"id": "h-toner", "question": "printer toner is low, order a toner cartridge",
     "answerable": True, "gold_articles": ["printing/toner.md"]},
]


def test_kb_promote_needs_a_passing_stage_eval_or_force_and_rollback_undoes_it(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    data = build_hashing_kb(tmp_path)
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    dataset = write_jsonl(tmp_path / "set.jsonl", PRINTER_SET)
    stage = create_stage(data)

    code, _, err = kb(capsys, "promote", "--data-dir", str(data))
    assert code == 2
    assert err.startswith("kb promote: staging index index-2 has not been evaluated")

    # retire the toner article in the stage only: its question can no longer be answered
    retired = PRINTER_ARTICLES["printing/toner.md"].replace("status: published",
                                                           "status: retired")
    source = write_articles(tmp_path / "kb", {"printing/toner.md": retired})
    ingest_into(stage, source, HashingEmbedder())

    code, out, err = kb(capsys, "eval", str(dataset), "--data-dir", str(data), "--stage",
                        "--json")
    assert code == 1
    assert json.loads(out)["gate"]["compared_to"] == "live index"
    verdict = json.loads((data / "STAGE_EVAL.json").read_text())
    assert (verdict["passed"], verdict["index"]) == (False, "index-2")
    assert "retrieval.recall@1 1.000 -> 0.500" in verdict["regressions"]

    code, _, err = kb(capsys, "promote", "--data-dir", str(data))
    assert code == 2
    assert "failed its eval gate: retrieval.recall@1 1.000 -> 0.500" in err
    assert read_pointer(data, "LIVE") == "index-1"

    code, out, _ = kb(capsys, "promote", "--data-dir", str(data), "--force", "--by", "lee")
    assert (code, out) == (0, "index-2 is live\n")
    entry = json.loads((data / "promotions.jsonl").read_text().splitlines()[-1])
    assert (entry["forced"], entry["eval_passed"], entry["by"]) == (True, False, "lee")

    code, out, _ = kb(capsys, "rollback", "--data-dir", str(data), "--by", "dana")
    assert (code, out) == (0, "rolled back: index-1 is live\n")
    assert read_pointer(data, "LIVE") == "index-1"


def test_a_stage_that_passes_its_eval_is_promoted_without_force(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    data = build_hashing_kb(tmp_path)
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    dataset = write_jsonl(tmp_path / "set.jsonl", PRINTER_SET)
    create_stage(data)
    code, _, _ = kb(capsys, "eval", str(dataset), "--data-dir", str(data), "--stage", "--json")
    assert code == 0
    code, out, _ = kb(capsys, "promote", "--data-dir", str(data))
    assert (code, out) == (0, "index-2 is live\n")
    entry = json.loads((data / "promotions.jsonl").read_text())
    assert (entry["forced"], entry["eval_passed"]) == (False, True)


def test_terminal_text_prints_code_indented_and_strips_bold_off_a_terminal() -> None:
    from kb_cli.ask_cmd import terminal_text

    answer = ("**VPN - Resolution**\n5. Run: [1]\n```cmd\ngpupdate /force\ncertutil -pulse\n"
              "``` [1]\n6. Retry. [1]")
    assert terminal_text(answer, tty=False) == (
        "VPN - Resolution\n5. Run: [1]\n    gpupdate /force\n    certutil -pulse\n    [1]\n"
        "6. Retry. [1]")
    assert terminal_text("**bold**", tty=True) == "\033[1mbold\033[0m"
