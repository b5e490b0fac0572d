"""Reading ticket exports: ServiceNow (CSV, Table API JSON), Jira (REST search JSON, CSV),
JSON Lines and any CSV with a column mapping. Each yields :class:`Ticket`s and
:class:`BadRow`s (a bad record is reported and skipped; the rest is kept); a file that is not
what its format says is one :class:`TicketFileError`.

    for item in read_export(Path("incidents.csv"), "servicenow"):
        ...  # Ticket or BadRow

CSV is streamed record by record (multi-line quoted fields, a BOM, Excel's cp1252); JSON is
read whole (the Table API and Jira's search pages hold at most a few thousand records).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tickets.fields import BadRow, field_name, make_ticket
from tickets.store import Ticket
from tickets.textfile import TicketFileError, csv_rows, open_text

FORMATS = ("servicenow", "jira", "csv", "jsonl")
#: ServiceNow incident columns (CSV export header or Table API field) -> ticket field
SERVICENOW = {"number": "id", "short_description": "subject", "description": "text",
              "category": "category", "subcategory": "subcategory",
              "assignment_group": "group", "opened_at": "opened", "resolved_at": "resolved",
              "close_notes": "resolution", "groups": "groups"}
#: Jira's CSV export columns -> ticket field (Component/s and Labels repeat per value)
JIRA_CSV = {"issue key": "id", "summary": "subject", "description": "text",
            "component/s": "category", "labels": "labels", "created": "opened",
            "resolved": "resolved", "groups": "groups"}
JSONL_DEFAULT = {"id": "id", "text": "question", "category": "category"}

Item = Ticket | BadRow


def _sn_header(name: str) -> str:
    """``Short description`` / ``short_description`` / ``assignment_group.name`` alike."""
    key = name.strip().lower().replace(" ", "_").removeprefix("\ufeff")
    return key.removesuffix(".name").removesuffix(".display_value")


def detect_format(path: Path) -> str:
    """The format an export looks like: by its first bytes and, for CSV, its header."""
    with open_text(path) as stream:
        head = stream.read(65536)
    start = head.lstrip()[:1]
    if path.suffix.lower() == ".jsonl":
        return "jsonl"
    if start in ("{", "["):
        if '"issues"' in head:
            return "jira"
        if '"result"' in head:
            return "servicenow"
        return "jsonl" if start == "{" and "\n{" in head else "servicenow"
    first = head.split("\n", 1)[0].lower()
    if "issue key" in first:
        return "jira"
    if "short_description" in first.replace(" ", "_") and "number" in first:
        return "servicenow"
    return "csv"


def read_export(path: Path, fmt: str | None = None, mapping: Mapping[str, str] | None = None,
                encoding: str | None = None) -> Iterator[Item]:
    """The tickets and bad rows of an export, in file order."""
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise TicketFileError(path, f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if mapping and fmt not in ("csv", "jsonl"):
        raise TicketFileError(path, f"--map is for --format csv or jsonl; {fmt} exports "
                                    "have known columns")
    with open_text(path, encoding) as stream:
        start = stream.read(4096).lstrip()[:1]
        stream.seek(0)
        if fmt == "jsonl":
            yield from _jsonl(path, stream, _mapping(mapping, JSONL_DEFAULT))
        elif start in ("{", "[") and fmt in ("servicenow", "jira"):
            yield from _json(path, json_document(path, stream.read()), fmt)
        elif start in ("{", "["):
            raise TicketFileError(path, "is JSON, not CSV: use --format servicenow, jira or "
                                        "jsonl")
        elif fmt == "servicenow":
            yield from _csv(path, stream, lambda h: _columns(h, SERVICENOW, _sn_header), fmt)
        elif fmt == "jira":
            yield from _csv(path, stream, lambda h: _columns(
                h, JIRA_CSV, lambda c: c.strip().lower().removeprefix("\ufeff")), fmt)
        else:
            if not mapping:
                raise TicketFileError(path, "--format csv needs a column mapping: --map "
                                            "id=COLUMN --map text=COLUMN (fields: id, subject, "
                                            "text, category, group, opened, ...)")
            fields = _mapping(mapping, {})
            yield from _csv(path, stream, lambda h: _mapped_columns(path, h, fields), fmt)


def _mapping(mapping: Mapping[str, str] | None, default: dict[str, str]) -> dict[str, str]:
    """``--map`` pairs (field -> column), field names checked, over the defaults."""
    out = dict(default)
    for name, column in (mapping or {}).items():
        try:
            out[field_name(name)] = column
        except ValueError as exc:
            try:  # COLUMN=FIELD, the other way round
                out[field_name(column)] = name
            except ValueError:
                raise TicketFileError("--map", str(exc)) from None
    return out


def _columns(header: list[str], known: dict[str, str], norm: Any) -> list[str | None]:
    return [known.get(norm(h)) for h in header]


def _mapped_columns(path: Path, header: list[str], fields: dict[str, str]) -> list[str | None]:
    names = [h.strip().removeprefix("\ufeff") for h in header]
    lowered = [n.lower() for n in names]
    out: list[str | None] = [None] * len(names)
    for field, column in fields.items():
        if column.strip().lower() not in lowered:
            raise TicketFileError(path, f"--map {field}={column}: no column {column!r} in the "
                                        f"header ({', '.join(names[:20])})")
        out[lowered.index(column.strip().lower())] = field
    return out


def _require(path: Path, fmt: str, header: list[str], columns: list[str | None]) -> None:
    if "id" in columns and ({"subject", "text"} & set(columns)):
        return
    names = ", ".join(h.strip() for h in header[:12]) or "(empty)"
    wanted = {"servicenow": "'number' and 'short_description'",
              "jira": "'Issue key' and 'Summary'", "csv": "id and text (--map)"}[fmt]
    label = {"servicenow": "a ServiceNow incident export", "jira": "a Jira CSV export",
             "csv": "mapped"}[fmt]
    raise TicketFileError(path, f"is not {label}: its header has no {wanted} column "
                                f"(found: {names}); check --format")


def _csv(path: Path, stream: Any, columns_of: Any, fmt: str) -> Iterator[Item]:
    rows = csv_rows(path, stream)
    header: list[str] | None = None
    for line, row in rows:
        if isinstance(row, str):
            if header is None:
                raise TicketFileError(path, f"line {line}: {row}")
            yield BadRow(line, row)
            continue
        if header is None:
            if not any(c.strip() for c in row):
                continue
            header = row
            columns = columns_of(header)
            _require(path, fmt, header, columns)
            continue
        if not any(c.strip() for c in row):
            continue
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            yield BadRow(line, f"{len(row)} fields, the header has {len(header)}")
            continue
        record: dict[str, Any] = {}
        for field, value in zip(columns, row, strict=False):
            if field == "labels":  # Jira repeats Labels (and Component/s) once per value
                record.setdefault("labels", []).append(value)
            elif field and not str(record.get(field) or "").strip():
                record[field] = value
        yield _ticket_or_bad(record, fmt, line)
    if header is None:
        raise TicketFileError(path, "is empty: no header, no tickets")


def _ticket_or_bad(record: dict[str, Any], source: str, line: int,
                   unit: str = "line") -> Item:
    try:
        return make_ticket(record, source)
    except ValueError as exc:
        return BadRow(line, str(exc), unit)


def json_document(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TicketFileError(path, f"is not valid JSON (line {exc.lineno}, column "
                                    f"{exc.colno}: {exc.msg})") from None


def _json(path: Path, doc: Any, fmt: str) -> Iterator[Item]:
    if fmt == "jira":
        if not isinstance(doc, dict) or not isinstance(doc.get("issues"), list):
            raise TicketFileError(path, "is not a Jira search export: no top-level \"issues\" "
                                        "list ({\"issues\": [{\"key\", \"fields\"}]}); check "
                                        "--format")
        for n, issue in enumerate(doc["issues"], start=1):
            yield _jira_issue(issue, n)
        return
    records = doc.get("result") if isinstance(doc, dict) else doc
    if not isinstance(records, list) or (records and not any(
            isinstance(r, dict) and "number" in r for r in records[:50])):
        raise TicketFileError(path, "is not a ServiceNow Table API export: no top-level "
                                    "\"result\" list of incidents with a \"number\"; check "
                                    "--format")
    for n, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            yield BadRow(n, "not a JSON object", "record")
            continue
        record = {SERVICENOW[k]: v for k, v in rec.items() if k in SERVICENOW}
        yield _ticket_or_bad(record, "servicenow", n, "record")


def _jira_issue(issue: Any, n: int) -> Item:
    if not isinstance(issue, dict) or not isinstance(issue.get("fields"), dict):
        return BadRow(n, "not an issue with \"fields\"", "record")
    f = issue["fields"]
    components = [c.get("name", "") for c in f.get("components") or [] if isinstance(c, dict)]
    record = {"id": issue.get("key"), "subject": f.get("summary"),
              "text": f.get("description"), "category": components[0] if components else None,
              "subcategory": components[1] if len(components) > 1 else None,
              "labels": f.get("labels") or [], "opened": f.get("created"),
              "resolved": f.get("resolutiondate"), "groups": f.get("groups") or []}
    return _ticket_or_bad(record, "jira", n, "record")


def _jsonl(path: Path, stream: Any, fields: dict[str, str]) -> Iterator[Item]:
    seen = False
    for line, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError as exc:
            if not seen:
                raise TicketFileError(path, f"line {line} is not JSON ({exc.msg}): not a "
                                            "JSON Lines file; check --format") from None
            yield BadRow(line, f"not valid JSON ({exc.msg})")
            continue
        seen = True
        if not isinstance(rec, dict):
            yield BadRow(line, "not a JSON object")
            continue
        record = {field: rec.get(key) for field, key in fields.items()}
        if record.get("text") is None and "text" in rec:
            record["text"] = rec["text"]
        yield _ticket_or_bad(record, "jsonl", line)
