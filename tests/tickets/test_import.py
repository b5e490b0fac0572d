"""Ticket import: ServiceNow CSV and JSON, Jira JSON and CSV, mapped CSV, JSON Lines; bad rows
by line number, re-import in place, encodings, a file that is not what --format says."""

from __future__ import annotations

import json
import re
from contextlib import closing
from pathlib import Path

import pytest

from core.store import state as state_store
from tickets.fields import BadRow, parse_when
from tickets.importers import detect_format, read_export
from tickets.store import Ticket, count_tickets, iter_tickets, save_tickets
from tickets.textfile import TicketFileError

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "evals" / "datasets" / "tickets"

SN_HEADER = ("number,short_description,description,category,subcategory,assignment_group,"
             "opened_at,resolved_at,close_notes\n")


def items(path: Path, fmt: str | None = None, **kw: object) -> tuple[list[Ticket], list[BadRow]]:
    got = list(read_export(path, fmt, **kw))  # type: ignore[arg-type]
    return ([i for i in got if isinstance(i, Ticket)], [i for i in got if isinstance(i, BadRow)])


def test_servicenow_csv_multiline_fields_and_bad_rows_by_line(tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    path.write_text(
        SN_HEADER
        + 'INC001,VPN error 809,"Fails at home.\nSecond line, with a comma",Network,VPN,'
          'Network Ops,2026-10-08 09:13:00,2026-10-08 12:13:00,Fixed\n'
        + ',No number here,body,Network,,,2026-10-09 09:00:00,,\n'          # line 4
        + 'INC003,"Quote ""inside""",,Email,,Messaging,not a date,,\n'        # line 5
        + 'INC004,,,Email,,,,,\n'                                            # line 6
        + 'INC005,Printer jammed,"Paper\njam\non floor 3",Hardware,Printer,EUC,'
          '2026-11-01 08:00,,\n'                                             # lines 7-9
        + 'INC006,Too,many,fields,a,b,c,d,e,f,g\n', encoding="utf-8")         # line 10
    tickets, bad = items(path, "servicenow")
    assert [t.id for t in tickets] == ["INC001", "INC005"]
    first = tickets[0]
    assert first == Ticket("INC001", "VPN error 809", "Fails at home.\nSecond line, with a comma",
                           "Network", "VPN", "Network Ops", (), (), "2026-10-08T09:13:00",
                           "2026-10-08T12:13:00", "Fixed", "servicenow")
    assert tickets[1].opened_at == "2026-11-01T08:00:00"
    assert [(b.line, b.reason) for b in bad] == [
        (4, "no ticket id"),
        (5, "ticket INC003: opened: cannot read 'not a date' as a date"),
        (6, "ticket INC004: no subject and no description"),
        (10, "11 fields, the header has 9")]
    assert str(bad[0]) == "line 4: no ticket id"


def test_servicenow_table_api_json_with_display_values(tmp_path: Path) -> None:
    path = tmp_path / "incidents.json"
    path.write_text(json.dumps({"result": [
        {"number": "INC100", "short_description": "Mailbox full",
         "description": "Cannot send", "category": "Email",
         "assignment_group": {"display_value": "Messaging", "link": "https://x/api/1"},
         "opened_at": "2026-09-01 10:00:00", "resolved_at": ""},
        {"number": "", "short_description": "no number"},
        "not an object"]}), encoding="utf-8")
    tickets, bad = items(path)
    assert detect_format(path) == "servicenow"
    assert [(t.id, t.group, t.opened_at, t.resolved_at) for t in tickets] == [
        ("INC100", "Messaging", "2026-09-01T10:00:00", None)]
    assert [str(b) for b in bad] == ["record 2: no ticket id", "record 3: not a JSON object"]


def test_jira_json_components_labels_and_document_format(tmp_path: Path) -> None:
    path = tmp_path / "issues.json"
    adf = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "First line"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "Second "},
                                          {"type": "text", "text": "line"}]}]}
    path.write_text(json.dumps({"issues": [
        {"key": "ITSD-1", "fields": {"summary": "Battery not charging", "description": adf,
                                     "components": [{"name": "Hardware"}, {"name": "Laptop"}],
                                     "labels": ["euc", "battery"],
                                     "created": "2026-10-02T12:52:00.000+0100",
                                     "resolutiondate": None}},
        {"key": "ITSD-2", "fields": {"summary": "", "description": None}},
        {"key": "ITSD-3"}]}), encoding="utf-8")
    tickets, bad = items(path, "jira")
    assert tickets == [Ticket("ITSD-1", "Battery not charging", "First line\nSecond line",
                              "Hardware", "Laptop", None, ("euc", "battery"), (),
                              "2026-10-02T12:52:00+01:00", None, None, "jira")]
    assert [str(b) for b in bad] == ["record 2: ticket ITSD-2: no subject and no description",
                                     "record 3: not an issue with \"fields\""]


def test_jira_csv_repeated_columns(tmp_path: Path) -> None:
    path = tmp_path / "jira.csv"
    path.write_text("Summary,Issue key,Issue id,Description,Component/s,Component/s,Labels,"
                    "Labels,Labels,Created,Resolved\n"
                    "Cannot edit PDF,ITSD-7,10007,Edit tool greyed out,Software,Adobe,"
                    "adobe,licence,,04/Mar/26 10:22 AM,05/Mar/26 9:01 AM\n", encoding="utf-8")
    tickets, bad = items(path)
    assert detect_format(path) == "jira" and not bad
    assert tickets == [Ticket("ITSD-7", "Cannot edit PDF", "Edit tool greyed out", "Software",
                              None, None, ("adobe", "licence"), (), "2026-03-04T10:22:00",
                              "2026-03-05T09:01:00", None, "jira")]


def test_mapped_csv_either_way_round_and_groups(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("ticket_id,text,Kategorie,Teams\n"
                    'T-1,Payroll file rejected by the bank,Finance,"finance, payroll"\n',
                    encoding="utf-8")
    mapping = {"id": "ticket_id", "text": "text", "Kategorie": "category", "groups": "Teams"}
    tickets, bad = items(path, "csv", mapping=mapping)
    assert not bad
    assert tickets[0].id == "T-1" and tickets[0].category == "Finance"
    assert tickets[0].subject == "Payroll file rejected by the bank"
    assert tickets[0].groups == ("finance", "payroll")
    with pytest.raises(TicketFileError, match="no column 'nope'"):
        items(path, "csv", mapping={"id": "nope", "text": "text"})
    with pytest.raises(TicketFileError, match="unknown ticket field 'colour'"):
        items(path, "csv", mapping={"colour": "blue", "id": "ticket_id"})
    with pytest.raises(TicketFileError, match="needs a column mapping"):
        items(path, "csv")


def test_jsonl_questions_as_tickets() -> None:
    tickets, bad = items(REPO / "evals" / "datasets" / "ms_support_dev.jsonl")
    assert len(tickets) == 127 and not bad
    assert tickets[0].id == "msdev-001" and tickets[0].category == "exchange"
    assert tickets[0].subject.startswith("the EMC on our exchange 2010 sp2 hybrid server")


@pytest.mark.parametrize(("name", "fmt", "message"), [
    ("kb_samples_jira.json", "servicenow", "is not a ServiceNow Table API export"),
    ("kb_samples_servicenow.csv", "jira", "is not a Jira CSV export: its header has no "
                                          "'Issue key' and 'Summary' column (found: number"),
    ("kb_samples_jira.json", "csv", "is JSON, not CSV"),
    ("kb_samples_servicenow.csv", "jsonl", "line 1 is not JSON"),
])
def test_a_file_that_is_not_its_format_is_one_clear_error(name: str, fmt: str,
                                                          message: str) -> None:
    with pytest.raises(TicketFileError, match=re.escape(message)):
        items(SAMPLES / name, fmt, mapping={"id": "x"} if fmt == "csv" else None)


def test_the_samples_read_whole() -> None:
    sn, sn_bad = items(SAMPLES / "kb_samples_servicenow.csv")
    jira, jira_bad = items(SAMPLES / "kb_samples_jira.json")
    assert len(sn) == len(jira) == 52 and not sn_bad and not jira_bad
    assert [t.subject for t in sn] == [t.subject for t in jira]
    assert [t.body for t in sn] == [t.body for t in jira]  # ADF and plain text alike


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252"])
def test_encodings(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "incidents.csv"
    path.write_text(SN_HEADER + "INC9,Café printer – “jammed”,Müller,Hardware,,,,,\n",
                    encoding=encoding)
    tickets, bad = items(path, "servicenow")
    assert not bad and tickets[0].subject == "Café printer – “jammed”"
    assert tickets[0].body == "Müller"


def test_undecodable_bytes_later_in_the_file_name_the_option(tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    path.write_bytes(SN_HEADER.encode() + b"INC1,ok,,,,,,,\n" * 70_000 + b"INC2,caf\xe9,,,,,,,\n")
    with pytest.raises(TicketFileError, match="--encoding"):
        items(path, "servicenow")
    tickets, _ = items(path, "servicenow", encoding="cp1252")
    assert tickets[-1].subject == "café"


def test_reimport_updates_in_place(tmp_path: Path) -> None:
    with closing(state_store.connect(tmp_path / "state.sqlite")) as conn:
        first = save_tickets(conn, items(SAMPLES / "kb_samples_servicenow.csv")[0])
        again = save_tickets(conn, items(SAMPLES / "kb_samples_servicenow.csv")[0])
        assert (first.added, first.updated, first.unchanged) == (52, 0, 0)
        assert (again.added, again.updated, again.unchanged) == (0, 0, 52)
        changed = Ticket("INC0010001", "VPN error 809 (edited)", source="servicenow")
        assert save_tickets(conn, [changed]).updated == 1
        assert count_tickets(conn) == 52
        stored = next(t for t in iter_tickets(conn) if t.id == "INC0010001")
        assert stored == changed
        assert len(list(iter_tickets(conn, since="2026-11-01"))) == 17


@pytest.mark.parametrize(("raw", "iso"), [
    ("2026-10-08 09:13:00", "2026-10-08T09:13:00"),
    ("2026-10-08T09:13:00.000+0100", "2026-10-08T09:13:00+01:00"),
    ("2026-10-08T09:13:00Z", "2026-10-08T09:13:00+00:00"),
    ("04/Mar/26 10:22 PM", "2026-03-04T22:22:00"),
    ("2026-10-08", "2026-10-08T00:00:00"),
    ("", None)])
def test_dates(raw: str, iso: str | None) -> None:
    assert parse_when(raw) == iso
