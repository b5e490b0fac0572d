"""Confluence HTML space exports (zip) as kb records, for ``kb import confluence FILE``.

An HTML space export (``SPACEKEY/index.html`` plus one ``Title_123456.html`` per page) is
already rendered HTML: :func:`read_export` takes each page's ``#main-content``, turns the
syntax-highlighter blocks back into ``<pre><code>``, images into their names and links between
exported pages into the pages' Confluence URLs. The zip is checked before anything is read
(members, expansion, ratio: :func:`ingest.read_docx.check_zip_expansion`; no absolute or
``..`` member paths); nothing is extracted to disk.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from core.errors import KbError
from ingest.read_docx import check_zip_expansion
from ingest.sources.config import SourceConfig
from ingest.sources.confluence_storage import StorageRenderer, text_of, unsafe_href
from ingest.sources.record import SourceRecord

log = logging.getLogger(__name__)

#: an export may be this big (attachments included); unzipped at most ZIP_EXPANSION times that
EXPORT_MAX_BYTES = 500_000_000
_PAGE_FILE = re.compile(r"^(?:.*_)?(\d+)\.html?$")
_MODIFIED = re.compile(r"\bon\s+([A-Z][a-z]{2,8}\.?\s+\d{1,2},\s+\d{4})")
_BRUSH = re.compile(r"brush:\s*([A-Za-z0-9_+#-]+)")


def _unsafe_member(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or "\\" in name or ".." in parts
            or (":" in parts[0]) or "\x00" in name)


def _export_date(doc: Any, member: zipfile.ZipInfo) -> str:
    meta = doc.xpath('//*[contains(concat(" ", normalize-space(@class), " "), " page-metadata ")]')
    match = _MODIFIED.search(" ".join(text_of(m) for m in meta))
    if match:
        text = re.sub(r"\s+", " ", match.group(1).replace(".", ""))
        for fmt in ("%b %d, %Y", "%B %d, %Y"):
            try:
                return datetime.strptime(text, fmt).strftime("%Y-%m-%dT00:00:00Z")
            except ValueError:
                continue
    try:  # no "last modified" line: the file's own date in the zip
        return datetime(*member.date_time).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return "1980-01-01T00:00:00Z"


def _clean_export_html(main: Any, page_url: Callable[[str], str]) -> str:
    """``#main-content`` of an exported page as kb HTML (see the module docstring)."""
    for pre in main.xpath(".//pre"):
        brush = _BRUSH.search(pre.get("data-syntaxhighlighter-params", ""))
        code_text = text_of(pre)
        pre.clear(keep_tail=True)
        code = etree.SubElement(pre, "code")
        code.text = code_text
        if brush:
            code.set("class", f"language-{brush.group(1).lower()}")
    for img in main.xpath(".//img"):
        name = (img.get("alt") or img.get("data-linked-resource-default-alias")
                or (img.get("src") or "").rsplit("/", 1)[-1].split("?", 1)[0])
        _replace_with_text(img, name)
    for a in main.xpath(".//a[@href]"):
        href = a.get("href", "")
        target = _PAGE_FILE.match(href.split("#", 1)[0]) if not urlsplit(href).scheme else None
        if target and "/" not in href:
            a.set("href", page_url(target.group(1)))
        elif href.startswith("attachments/") or unsafe_href(href) or not urlsplit(href).scheme:
            a.attrib.pop("href", None)
    return StorageRenderer(lambda _t, _k: None).children(main).strip()


def _replace_with_text(el: Any, text: str) -> None:
    parent = el.getparent()
    if parent is None:
        return
    before = el.getprevious()
    addition = text + (el.tail or "")
    if before is not None:
        before.tail = (before.tail or "") + addition
    else:
        parent.text = (parent.text or "") + addition
    parent.remove(el)


def _by_class(doc: Any, name: str) -> list[Any]:
    return list(doc.xpath(f'//*[contains(concat(" ", normalize-space(@class), " "), " {name} ")]'))


def export_page(data: bytes, member: zipfile.ZipInfo, page_id: str, cfg: SourceConfig,
                page_url: Callable[[str], str]) -> SourceRecord | None:
    """One exported page file as a record (None, with a warning, when it has no title/body)."""
    parser = lxml.html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True,
                                  encoding="utf-8")
    doc = lxml.html.document_fromstring(data, parser=parser)
    crumbs = [" ".join(text_of(a).split()) for a in doc.xpath('//*[@id="breadcrumbs"]//a')]
    space_name = crumbs[0] if crumbs else ""
    heading = doc.xpath('//*[@id="title-text"]')
    title = " ".join(text_of(heading[0]).split()) if heading else ""
    if space_name and title.startswith(space_name + " : "):
        title = title[len(space_name) + 3:].strip()
    main = doc.xpath('//*[@id="main-content"]')
    if not title or not main:
        log.warning("source %s: export page %s (%s) has no #title-text or #main-content; skipped",
                    cfg.name, page_id, member.filename)
        return None
    labels = [" ".join(text_of(a).split()) for box in _by_class(doc, "labels")
              for a in box.xpath(".//a")]
    updated = _export_date(doc, member)
    return SourceRecord(
        id=page_id, title=title, body_html=_clean_export_html(main[0], page_url),
        updated=updated, status="published", category=" > ".join(crumbs[1:]) or None,
        tags=tuple(dict.fromkeys(t for t in labels if t)), url=page_url(page_id),
        last_reviewed=updated[:10])


def _page_members(archive: zipfile.ZipFile, path: Path) -> list[tuple[zipfile.ZipInfo, str]]:
    pages = []
    for member in archive.infolist():
        if _unsafe_member(member.filename):
            raise KbError(f"{path}: member {member.filename!r} has an absolute or '..' path; "
                          "not a Confluence export, not read")
        parts = member.filename.split("/")
        found = _PAGE_FILE.match(parts[-1]) if len(parts) <= 2 else None
        if found and not member.is_dir():
            pages.append((member, found.group(1)))
    return pages


def read_export(path: Path, cfg: SourceConfig) -> Iterator[SourceRecord]:
    """Every page of a Confluence HTML space export (see the module docstring)."""
    try:
        if path.stat().st_size > EXPORT_MAX_BYTES:
            raise KbError(f"{path}: the export is over {EXPORT_MAX_BYTES / 1e6:g} MB; export "
                          "the space without attachments, or sync it through the REST API")
        data = path.read_bytes()
    except OSError as exc:
        raise KbError(f"{path}: cannot read the export ({exc.strerror or exc})") from None
    check_zip_expansion(data, str(path), EXPORT_MAX_BYTES, kind="Confluence export")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise KbError(f"{path}: not a Confluence HTML export (a zip file): {exc}") from None
    with archive:
        pages = _page_members(archive, path)
        if not pages:
            raise KbError(f"{path}: no exported pages (SPACEKEY/Title_123.html) in the zip; "
                          "export the space as HTML")
        spaces = {m.filename.split("/")[0] for m, _ in pages if "/" in m.filename}
        outside = sorted(spaces - set(cfg.scopes)) if cfg.scopes else []
        if outside:
            raise KbError(f"{path}: the export holds space {', '.join(outside)}, not one of "
                          f"source {cfg.name}'s spaces ({', '.join(cfg.scopes)})")
        base = (cfg.url or "").rstrip("/")
        if cfg.api == "cloud" and not base.endswith("/wiki"):
            base += "/wiki"

        def page_url(page_id: str) -> str:
            return f"{base}/pages/viewpage.action?pageId={page_id}"

        for member, page_id in pages:
            try:
                record = export_page(archive.read(member), member, page_id, cfg, page_url)
            except (zipfile.BadZipFile, etree.ParserError, ValueError, OSError) as exc:
                raise KbError(f"{path}: page {member.filename}: not readable ({exc})") from None
            if record is not None:
                yield record
