"""``kb tickets import|list|train`` and ``kb coverage --tickets`` end to end (HashingEmbedder,
kb_samples ingested as ``kb ingest`` does)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb_cli.main import main as kb_main
from tests.assistant.web.fast_app import build_data_dir

SAMPLES = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "tickets"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_data_dir(tmp_path_factory.mktemp("tickets-cli"))


@pytest.fixture
def data_dir(base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the index with an empty state DB; the hashing embedder for every command."""
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(base, copy)
    for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm"):
        (copy / name).unlink(missing_ok=True)
    monkeypatch.setenv("KB_EMBEDDER", "hashing")
    return copy


def kb(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = kb_main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_import_reimport_and_list(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = str(SAMPLES / "kb_samples_servicenow.csv")
    code, out, _ = kb(capsys, "tickets", "import", csv_file, "--data-dir", str(data_dir))
    assert code == 0
    assert out.strip() == (f"{csv_file} (servicenow): 52 tickets: 52 added, 0 updated, "
                           "0 unchanged; 0 bad rows")
    code, out, _ = kb(capsys, "tickets", "import", csv_file, "--data-dir", str(data_dir),
                      "--json")
    result = json.loads(out)
    assert (result["added"], result["updated"], result["unchanged"]) == (0, 0, 52)
    code, out, _ = kb(capsys, "tickets", "import", str(SAMPLES / "kb_samples_jira.json"),
                      "--format", "jira", "--data-dir", str(data_dir))
    assert "52 added" in out
    code, out, _ = kb(capsys, "tickets", "list", "--data-dir", str(data_dir), "--json",
                      "--limit", "200")
    rows = json.loads(out)
    assert len(rows) == 104 and rows[0]["id"] == "INC0010001" and rows[0]["covered"] is None


def test_bad_rows_are_listed_and_the_rest_kept(data_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "mapped.csv"
    export.write_text("Ref,Text,Team\nA-1,VPN error 809 at home,Network\n,no id,Network\n"
                      "A-3,\"Outlook keeps asking\nfor my password\",Messaging\n",
                      encoding="utf-8")
    code, out, _ = kb(capsys, "tickets", "import", str(export), "--format", "csv",
                      "--map", "id=Ref", "--map", "text=Text", "--map", "Team=group",
                      "--data-dir", str(data_dir))
    assert code == 0
    assert out.splitlines() == [f"{export} (csv): 2 tickets: 2 added, 0 updated, 0 unchanged; "
                                "1 bad rows", "  line 3: no ticket id"]


def test_wrong_format_is_one_line_and_exit_2(data_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = kb(capsys, "tickets", "import", str(SAMPLES / "kb_samples_jira.json"),
                        "--format", "servicenow", "--data-dir", str(data_dir))
    assert code == 2 and not out
    assert err.startswith("kb tickets: ") and "is not a ServiceNow Table API export" in err
    assert len(err.strip().splitlines()) == 1


def test_coverage_json_report_and_outcomes(data_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = kb(capsys, "coverage", "--tickets", "--data-dir", str(data_dir))
    assert code == 2 and "no tickets to measure" in err
    kb(capsys, "tickets", "import", str(SAMPLES / "kb_samples_servicenow.csv"),
       "--data-dir", str(data_dir))
    report = tmp_path / "coverage.html"
    code, out, _ = kb(capsys, "coverage", "--tickets", "--data-dir", str(data_dir), "--json",
                      "--report", str(report), "--as-of", "2026-11-25")
    summary = json.loads(out)
    assert code == 0 and summary["tickets"] == 52
    assert summary["command"].startswith("kb coverage --tickets --data-dir")
    assert [r["key"] for r in summary["by_month"]] == ["2026-09", "2026-10", "2026-11"]
    assert sum(r["tickets"] for r in summary["by_group"]) == 52
    html = report.read_text(encoding="utf-8")
    assert summary["command"] in html and "Articles to write" in html
    code, out, _ = kb(capsys, "tickets", "list", "--uncovered", "--json", "--limit", "100",
                      "--data-dir", str(data_dir))
    assert len(json.loads(out)) == 52 - summary["covered"]
    code, out, _ = kb(capsys, "coverage", "--tickets", "--since", "2026-11-01",
                      "--data-dir", str(data_dir), "--as-of", "2026-11-25")
    assert code == 0 and out.startswith("17 tickets, ")
    assert "articles to write (uncovered tickets by topic):" in out


def test_train_calls_the_routing_api(data_dir: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    routing = pytest.importorskip("tickets.routing")
    kb(capsys, "tickets", "import", str(SAMPLES / "kb_samples_servicenow.csv"),
       "--data-dir", str(data_dir))
    code, out, _ = kb(capsys, "tickets", "train", "--data-dir", str(data_dir))
    assert code == 0 and "on 52 tickets" in out
    assert routing.router_path(data_dir).exists()
