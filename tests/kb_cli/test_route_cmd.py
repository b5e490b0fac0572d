"""``kb route`` and ``kb eval-routing`` through ``kb_cli.main.main``: a router trained on the
ticket history of tests/tickets/test_routing.py, next to a small printer KB ingested with the
HashingEmbedder (``KB_EMBEDDER=hashing``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from kb_cli.main import main
from tests.assistant.helpers import PRINTER_ARTICLES, build_hashing_kb, front_matter
from tests.tickets.test_routing import TICKETS
from tickets.routing import router_path, save_router, train_router

#: a printer article only the finance group may read: the admin's CLI lists it
FINANCE_ARTICLE = "printing/finance-cheque-printer.md"
ARTICLES = {**PRINTER_ARTICLES, FINANCE_ARTICLE: front_matter(
    title="Cheque printer paper jam in tray 2", owner="fin@northwind.example",
    category="Printing", status="published", last_reviewed="2026-10-01",
    groups="[finance]") + """\
# Cheque printer paper jam in tray 2

## Symptoms

The cheque printer reports a paper jam in tray 2; the paper in tray 2 is creased.

## Resolution

Remove the creased paper from tray 2 of the cheque printer and press OK.
"""}
JAM = "printer paper jam in tray 2, paper creased"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = build_hashing_kb(tmp_path_factory.mktemp("route-cli"), ARTICLES)
    ids, texts, categories, groups = zip(*TICKETS, strict=True)
    save_router(train_router(texts, categories, groups, ids), router_path(data))
    return data


@pytest.fixture(autouse=True)
def hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_EMBEDDER", "hashing")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_route_json_names_category_group_tickets_and_articles(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "route", JAM, "--data-dir", str(data_dir), "--json", "--k", "2")
    assert code == 0
    body = json.loads(out)
    assert set(body) == {"category", "confidence", "known", "group", "group_confidence",
                         "alternatives", "similar_tickets", "articles"}
    assert body["category"] == "Hardware" and body["group"] == "Desk Support"
    assert body["similar_tickets"][0]["id"] == "H06"
    assert len(body["similar_tickets"]) == 2
    assert set(body["alternatives"][0]) == {"category", "confidence"}
    # both jam articles, in the ranker's order; the CLI is an admin's tool: the finance-only
    # article is listed too
    assert {a["article_id"] for a in body["articles"][:2]} == {"printing/paper-jam.md",
                                                               FINANCE_ARTICLE}


def test_route_text_and_not_sure_below_the_threshold(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "route", JAM, "--data-dir", str(data_dir))
    assert code == 0
    assert out.startswith("category: Hardware (confidence ")
    assert "Similar past tickets:\n  H06  Hardware" in out
    articles = out.split("KB articles:\n", 1)[1].splitlines()
    assert "  - Printer reports a paper jam (printing/paper-jam.md)" in articles[:2]
    code, out, _ = run(capsys, "route", JAM, "--data-dir", str(data_dir),
                       "--min-confidence", "1")
    assert code == 0
    assert out.startswith("not sure: the best guess is Hardware at confidence ")
    assert "below 1.00; route it by hand" in out.splitlines()[0]


def test_route_without_a_model_says_to_train(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "route", JAM, "--data-dir", str(tmp_path / "empty"))
    assert code == 2 and out == ""
    assert err == (f"kb route: no routing model in {tmp_path / 'empty' / 'routing'}: "
                   "run kb tickets train\n")


def test_route_without_an_index_lists_no_articles(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids, texts, categories, _ = zip(*TICKETS, strict=True)
    save_router(train_router(texts, categories, None, ids), router_path(tmp_path / "d"))
    code, out, _ = run(capsys, "route", JAM, "--data-dir", str(tmp_path / "d"), "--json")
    body = json.loads(out)
    assert code == 0 and body["articles"] == [] and body["group"] is None
    assert not (tmp_path / "d" / "indexes").exists()


def write_labelled(path: Path, header: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        for ticket_id, text, category, group in TICKETS:
            writer.writerow([ticket_id, text, category, group][:len(header)])
    return path


def test_eval_routing_reports_both_models_on_the_held_out_fifth(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labelled = write_labelled(tmp_path / "labelled.csv", ["ticket_id", "text", "category",
                                                          "group"])
    out_dir = tmp_path / "report"
    code, out, _ = run(capsys, "eval-routing", str(labelled), "--out", str(out_dir), "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["tickets"], report["train"], report["test"]) == (48, 38, 10)
    assert report["command"].startswith("kb eval-routing ")
    assert report["labels"] == ["Access", "HR Support", "Hardware", "Purchase"]
    for model in ("router", "baseline"):
        assert sum(map(sum, report[model]["confusion"])) == 10
        assert 0.0 <= report[model]["accuracy"] <= 1.0
        assert set(report[model]["per_class"]) == set(report["labels"])
    curve = report["router"]["coverage_curve"]
    assert [c["coverage"] for c in curve][:2] == [1.0, 1.0]  # 95% of 10 rounds up to all
    assert report["router"]["group_accuracy"] >= 0.0
    assert json.loads((out_dir / "report.json").read_text()) == report
    page = (out_dir / "report.html").read_text()
    assert "Confusion matrix: router" in page and "Confusion matrix: baseline" in page
    assert "<td>Hardware</td>" in page and "kb eval-routing" in page

    code, out, _ = run(capsys, "eval-routing", str(labelled))
    assert code == 0
    assert out.startswith("48 tickets: trained on 38, reported on 10 held out")
    assert "\nrouter " in out and "\nbaseline " in out and "coverage  threshold" in out


def test_eval_routing_names_a_missing_column(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    labelled = write_labelled(tmp_path / "bad.csv", ["ticket_id", "text"])
    code, _, err = run(capsys, "eval-routing", str(labelled))
    assert code == 2
    assert err.startswith(f"kb eval-routing: {labelled}: missing column(s) category")
