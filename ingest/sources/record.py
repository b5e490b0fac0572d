"""What every platform connector hands to kb: one :class:`SourceRecord` per article.

A connector (``servicenow``, ``confluence``, ``zendesk``) maps its platform's fields onto this
shape and nothing else; :mod:`ingest.sources.mirror` writes records as HTML files with a
metadata sidecar, and the folder ingest reads them like any other article. The same mapping
serves ``kb sync`` (the REST API) and ``kb import`` (the platform's export file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

#: kb's statuses (core.types.STATUSES); only "published" is answered from
RECORD_STATUSES = ("published", "draft", "retired")


@dataclass(frozen=True)
class SourceRecord:
    """One platform article, already mapped onto kb's metadata.

    ``id`` is the platform's own id, without the source's prefix (kb makes it ``NAME:ID``).
    ``body_html`` is the article body as HTML (Confluence storage format already rendered to
    plain HTML: code macros as ``<pre><code>``). ``updated`` is the record's last change as
    an ISO-8601 timestamp in UTC (``2026-11-30T09:15:00Z``): the sync's watermark is the
    largest one seen. Dates are ISO ``YYYY-MM-DD``. ``groups`` empty = everyone may read it.
    """

    id: str
    title: str
    body_html: str
    updated: str
    status: str = "published"
    owner: str | None = None
    groups: tuple[str, ...] = ()
    category: str | None = None
    tags: tuple[str, ...] = ()
    url: str | None = None
    last_reviewed: str | None = None
    valid_until: str | None = None
    products: tuple[str, ...] = ()


Progress = Callable[[str], None]


class Connector(Protocol):
    """A platform source. Both methods raise :class:`~ingest.sources.http.SourceError` when the
    platform cannot be read; kb then removes nothing and keeps the previous watermark."""

    def list_ids(self, progress: Progress) -> set[str]:
        """The ids of every record in the configured scope now (published or not), following
        pagination to the end: anything kb holds that is not listed is removed."""
        ...

    def changed(self, since: str | None, progress: Progress) -> Iterator[SourceRecord]:
        """Every record in scope changed at or after ``since`` (an ISO timestamp), or every
        record when ``since`` is None; only the latest version of an article. One progress
        line per page fetched."""
        ...
