"""Opening ticket exports as text, streamed: byte-order marks, UTF-8, Excel's Windows-1252.

``ingest/load.decode_text`` reads whole articles and refuses anything but UTF-8 and UTF-16;
exports are large and often written by Excel in the machine's code page, so this sniffs the
first megabyte instead and decodes the rest as it streams. A decoding error further on is
one clear error naming the line and the ``--encoding`` option.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from core.errors import KbError

SNIFF_BYTES = 1 << 20
#: one field may hold this many characters (a long description, a pasted log)
FIELD_LIMIT = 4 << 20


class TicketFileError(KbError):
    """The export cannot be read as a whole (wrong format, encoding, shape)."""

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(f"{path}: {message}")


def sniff_encoding(path: Path) -> str:
    """The encoding to read ``path`` with: its byte-order mark, else UTF-8 if the first
    megabyte decodes, else Windows-1252 if it decodes (Excel's CSV), else what
    charset-normalizer finds."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head[:8192]:
        raise TicketFileError(path, "looks binary (contains NUL bytes), not a ticket export")
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if len(head) == SNIFF_BYTES and exc.start >= len(head) - 3:
            return "utf-8"  # a character cut in two by the sniff
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(head[:65536]).best()
        return best.encoding if best else "latin-1"


def open_text(path: Path, encoding: str | None = None) -> TextIO:
    """The file as a text stream (universal newlines left to the csv module)."""
    if not path.is_file():
        raise TicketFileError(path, "no such file")
    enc = encoding or sniff_encoding(path)
    try:
        codecs.lookup(enc)
    except LookupError:
        raise TicketFileError(path, f"unknown encoding {enc!r}") from None
    return path.open(encoding=enc, newline="")


def csv_rows(path: Path, stream: TextIO) -> Iterator[tuple[int, list[str] | str]]:
    """``(first line of the record, its fields)`` for each CSV record, multi-line quoted
    fields included; a record the csv module rejects comes as ``(line, reason)``."""
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    reader = csv.reader(stream)
    line = 1
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, f"not valid CSV ({exc})"
            continue
        except UnicodeDecodeError as exc:
            raise TicketFileError(path, f"is not valid {stream.encoding} near line {line} "
                                        f"({exc.reason}); name its encoding with --encoding, "
                                        "e.g. --encoding cp1252") from None
        line = reader.line_num
        yield start, row
