"""Platform records mirrored as files and ingested beside a folder (ingest/sources/mirror.py,
ingest/run.py ingest_roots)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.paths import live_index, state_db
from core.settings import Settings
from core.store import catalog
from core.visibility import Audience, visible
from ingest.embed import HashingEmbedder
from ingest.sources import mirror
from ingest.sources.record import SourceRecord
from ingest.update import update_index
from tests.ingest.helpers import TEST_KB, TEST_KB_IDS, copy_tree

DAY = date(2026, 11, 25)
BODY = ("<h2>Symptoms</h2><p>The VPN client says error 809 when {who} connects from a hotel."
        "</p><h2>Resolution</h2><ol><li>Open the client.</li><li>Choose <b>Reset</b>.</li>"
        "</ol><pre><code>netsh int ip reset</code></pre><table><tr><th>Port</th><th>Use</th>"
        "</tr><tr><td>500</td><td>IKE</td></tr></table>")


def record(rid: str, who: str = "a user", **kw: object) -> SourceRecord:
    values: dict = {"title": f"VPN error 809 for {who}", "body_html": BODY.format(who=who),
                    "updated": "2026-11-20T10:00:00Z", "owner": "it-owner@acme.example",
                    "url": f"https://acme.service-now.com/kb_view.do?sysparm_article={rid}"}
    values.update(kw)
    return SourceRecord(id=rid, **values)


def ingest(data: Path, folder: Path) -> tuple[object, dict]:
    roots = mirror.kb_roots(data, [folder])
    update = update_index(live_index(data), state_db(data), roots, HashingEmbedder(),
                          Settings(data_dir=data), DAY, allow_empty=True)
    conn = catalog.connect(live_index(data).catalog)
    try:
        return update, {a.id: a for a in catalog.iter_articles(conn)}
    finally:
        conn.close()


def test_a_record_is_written_once_and_unchanged_records_keep_their_files(tmp_path: Path):
    folder = tmp_path / "m"
    assert mirror.write_record(folder, "it:", record("KB0010001"))
    html = (folder / "KB0010001.html").read_text()
    assert "<pre><code>netsh int ip reset</code></pre>" in html
    side = (folder / "KB0010001.meta.yaml").read_text()
    assert "id: it:KB0010001" in side and "groups: []" in side
    assert not mirror.write_record(folder, "it:", record("KB0010001"))
    assert mirror.write_record(folder, "it:", record("KB0010001", who="an admin"))
    assert oct((folder / "KB0010001.html").stat().st_mode & 0o777) == "0o600"


def test_ids_that_are_not_file_names_get_distinct_safe_stems():
    stems = {mirror.record_stem(i) for i in ("a/b", "a_b", "../etc", "a b", ".hidden")}
    assert len(stems) == 5
    assert all("/" not in s and not s.startswith(".") for s in stems)
    assert mirror.record_stem("KB0010001") == "KB0010001"


def test_remove_missing_deletes_only_unlisted_records(tmp_path: Path):
    folder = tmp_path / "m"
    for rid in ("1", "2", "3"):
        mirror.write_record(folder, "zd:", record(rid))
    assert mirror.remove_missing(folder, {"1", "3"}) == 1
    assert mirror.mirrored_stems(folder) == {"1", "3"}
    assert not (folder / "2.html").exists()


def test_a_mirror_claimed_by_another_platform_is_emptied(tmp_path: Path):
    assert not mirror.claim(tmp_path, "it", {"type": "servicenow", "url": "https://a"})
    mirror.write_record(mirror.mirror_dir(tmp_path, "it"), "it:", record("KB1"))
    assert not mirror.claim(tmp_path, "it", {"type": "servicenow", "url": "https://a"})
    assert mirror.mirrored_stems(mirror.mirror_dir(tmp_path, "it")) == {"KB1"}
    assert mirror.claim(tmp_path, "it", {"type": "zendesk", "url": "https://b"})
    assert mirror.mirrored_stems(mirror.mirror_dir(tmp_path, "it")) == set()


def test_folder_and_mirror_ingest_together_with_folder_ids_unchanged(tmp_path: Path):
    data, kb = tmp_path / "data", copy_tree(TEST_KB, tmp_path / "kb")
    folder = mirror.mirror_dir(data, "it")
    mirror.write_record(folder, "it:", record("KB0010001"))
    mirror.write_record(folder, "it:", record("KB0010002", who="HR", groups=("hr",),
                                              category="Network > VPN", tags=("vpn", "809")))
    mirror.write_record(folder, "it:", record("KB0010003", who="old", status="retired"))
    update, articles = ingest(data, kb)
    assert set(articles) == {*TEST_KB_IDS, "it:KB0010001", "it:KB0010002", "it:KB0010003"}
    assert articles["network/vpn-reset.md"].path == "network/vpn-reset.md"
    hr = articles["it:KB0010002"]
    assert hr.path == "it:KB0010002.html"
    assert (hr.groups, hr.category, hr.tags) == (("hr",), "Network > VPN", ("vpn", "809"))
    assert hr.url == "https://acme.service-now.com/kb_view.do?sysparm_article=KB0010002"
    assert any(b.kind == "code" and b.text == "netsh int ip reset" for b in hr.blocks)
    assert any(b.kind == "table" for b in hr.blocks)
    assert not visible(Audience(frozenset({"finance"})), hr, DAY)
    assert visible(Audience(frozenset({"hr"})), hr, DAY)
    assert not visible(Audience(), articles["it:KB0010003"], DAY)
    assert visible(Audience(), articles["it:KB0010001"], DAY)
    assert articles["it:KB0010003"].status == "retired"
    assert update.report.by_prefix["it:"]["added"] == 3
    assert update.report.by_prefix[""]["added"] == len(TEST_KB_IDS)

    mirror.remove_missing(folder, {"KB0010001", "KB0010003"})
    mirror.write_record(folder, "it:", record("KB0010001", who="a contractor"))
    update, articles = ingest(data, kb)
    assert "it:KB0010002" not in articles
    assert dict(update.report.by_prefix["it:"]) == {"updated": 1, "unchanged": 1, "removed": 1}
    assert update.report.by_prefix[""]["unchanged"] == len(TEST_KB_IDS)


def test_two_folders_holding_the_same_path_index_the_first_and_report_the_second(
        tmp_path: Path):
    data = tmp_path / "data"
    a, b = copy_tree(TEST_KB, tmp_path / "a"), copy_tree(TEST_KB, tmp_path / "b")
    update = update_index(live_index(data), state_db(data), [("", a), ("", b)],
                          HashingEmbedder(), Settings(data_dir=data), DAY)
    assert update.report.articles == len(TEST_KB_IDS)
    doubled = [f for f in update.report.failed if "also in" in f.error]
    assert len(doubled) == len(TEST_KB_IDS)


@pytest.mark.parametrize("prefix_key", ["it:KB9.html"])
def test_source_file_resolves_a_prefixed_path(tmp_path: Path, prefix_key: str):
    from ingest.run import source_file

    roots = [("", tmp_path / "kb"), ("it:", tmp_path / "it")]
    assert source_file(roots, prefix_key) == tmp_path / "it" / "KB9.html"
    assert source_file(roots, "network/vpn.md") == tmp_path / "kb" / "network/vpn.md"
