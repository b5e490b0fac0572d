"""The web app's live index: re-opened when ``kb promote`` switches LIVE or an ingest changes
it in place; unchanged otherwise."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from assistant.web.runtime import LiveKb, LockedEmbedder
from core.paths import write_pointer
from core.settings import Settings
from core.store import catalog
from ingest.embed import HashingEmbedder
from tests.assistant.helpers import PRINTER_ARTICLES, build_index, write_articles


def test_live_index_is_reopened_when_live_changes(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    source = write_articles(tmp_path / "src", PRINTER_ARTICLES)
    data = build_index(tmp_path / "data", source, embedder)
    live = LiveKb(data, LockedEmbedder(embedder), Settings(data_dir=data))
    first = live.current()
    assert live.current() is first and live.live_name == "index-1"
    one = {"printing/paper-jam.md": PRINTER_ARTICLES["printing/paper-jam.md"]}
    other = build_index(tmp_path / "other", write_articles(tmp_path / "src2", one), embedder)
    (data / "indexes" / "index-2").symlink_to(other / "indexes" / "index-1")
    write_pointer(data, "LIVE", "index-2")
    second = live.current()
    assert second is not first and live.live_name == "index-2"
    assert [a.id for a in second.index.articles] == ["printing/paper-jam.md"]
    assert len(live.articles()) == 1


def test_a_review_marked_by_another_instance_is_seen_at_the_next_request(
        tmp_path: Path) -> None:
    """Two ``kb serve`` processes on one data dir: an owner marks an article reviewed on A
    (the date goes into the shared catalog); B's next request sees the new date, and its
    stale warning for that article goes away, without a restart or a promotion."""
    embedder = HashingEmbedder()
    data = build_index(tmp_path / "data", write_articles(tmp_path / "src", PRINTER_ARTICLES),
                       embedder)
    a, b = (LiveKb(data, LockedEmbedder(embedder), Settings(data_dir=data)) for _ in "ab")
    jam, later = "printing/paper-jam.md", date(2027, 12, 1)  # reviewed 2026-10-01: stale
    assert b.current().stale_check(later)(jam)[0] is True
    before = b.current()

    catalog.apply_reviewed(a.current().index.conn, {jam: date(2027, 11, 30)})

    after = b.current()
    assert after is before  # same index (no reopen): only the review dates were re-read
    row = after.index.article_row[jam]
    assert after.index.articles[row].last_reviewed == date(2027, 11, 30)
    assert after.stale_check(later)(jam) == (False, None)
    assert b.current() is after and not any(b._changed())  # settled until the next change
