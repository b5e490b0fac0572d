"""The web app's live index: re-opened when ``kb promote`` switches LIVE or an ingest changes
it in place; unchanged otherwise."""

from __future__ import annotations

from pathlib import Path

from assistant.web.runtime import LiveKb, LockedEmbedder
from core.paths import write_pointer
from core.settings import Settings
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
