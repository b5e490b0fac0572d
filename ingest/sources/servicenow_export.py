"""ServiceNow Knowledge exports as kb records: the ``kb_knowledge`` list's XML export
(``<unload><kb_knowledge>...``, list > Export > XML) or a Table API JSON answer saved to a
file (``{"result": [...]}``). Versions, scope and mapping as in a sync
(:mod:`ingest.sources.servicenow`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from core.errors import KbError
from ingest.sources.config import SourceConfig
from ingest.sources.record import SourceRecord
from ingest.sources.servicenow import (
    Row,
    by_number,
    criteria_ids,
    current_version,
    display,
    to_record,
    value,
)

log = logging.getLogger(__name__)


def _xml_rows(path: Path) -> Iterator[Row]:
    """``<unload>`` rows; a DOCTYPE (entity declarations: XXE, billion laughs) is refused,
    entities are never resolved and nothing is fetched from the network."""
    events = etree.iterparse(str(path), events=("start", "end"), resolve_entities=False,
                             no_network=True, load_dtd=False, huge_tree=False)
    try:
        for event, element in events:
            if event == "start":
                if element.getparent() is None and element.getroottree().docinfo.doctype:
                    raise KbError(f"{path}: line {element.sourceline}: a ServiceNow export has "
                                  "no DOCTYPE; refusing a file with entity declarations")
                continue
            if element.tag != "kb_knowledge":
                continue
            row: Row = {"_line": f"line {element.sourceline}"}
            for child in element:
                text = "".join(child.itertext()) if isinstance(child.tag, str) else ""
                shown = child.get("display_value")
                row[str(child.tag)] = text if shown is None else {"value": text,
                                                                  "display_value": shown}
            element.clear()
            yield row
    except etree.XMLSyntaxError as exc:
        raise KbError(f"{path}: line {exc.lineno}: not a well-formed XML export: {exc.msg}"
                      ) from None


def _json_rows(path: Path) -> list[Row]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise KbError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except UnicodeDecodeError:
        raise KbError(f"{path}: not UTF-8 text") from None
    rows = data.get("result") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise KbError(f"{path}: expected a Table API answer {{\"result\": [records...]}}")
    return [dict(r, _line=f"record {i}") for i, r in enumerate(rows, 1)]


def _export_names(row: Row) -> dict[str, str]:
    """Criteria names from an export's display values (``"Name 1, Name 2"``), if they line up
    with the sys_ids; otherwise none (the ids stay groups nobody has)."""
    names: dict[str, str] = {}
    for field in ("can_read_user_criteria", "cannot_read_user_criteria"):
        ids, shown = criteria_ids(row, field), display(row, field)
        labels = [s.strip() for s in shown.split(",")] if shown != value(row, field) else []
        if len(labels) == len(ids):
            names.update(zip(ids, labels, strict=True))
    return names


def read_export(path: Path, cfg: SourceConfig) -> Iterator[SourceRecord]:
    """Records from a ``kb_knowledge`` XML export (list > Export > XML) or a Table API JSON
    answer saved to a file, versions and scope handled as in a sync."""
    try:
        with path.open("rb") as handle:
            start = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise KbError(f"{path}: cannot read the export: {exc.strerror}") from None
    rows = list(_xml_rows(path) if start.startswith(b"<") else _json_rows(path))
    scopes = {s.lower() for s in cfg.scopes}
    base_url = (cfg.url or "").rstrip("/")
    sys_ids = {value(r, "sys_id"): value(r, "number") for r in rows}
    for number, versions in by_number(rows).items():
        if not number:
            log.warning("%s: %s: skipping a record without a number", path, versions[0]["_line"])
            continue
        row, updated = current_version(versions)
        base = display(row, "kb_knowledge_base")
        if scopes and base.lower() not in scopes:
            continue
        record = to_record(row, updated, base_url, _export_names(row), cfg.review_date_field,
                           sys_ids)
        if record is None:
            log.warning("%s: %s: article %s skipped", path, row["_line"], number)
        else:
            yield record
