"""Flags for a real index (catalog + Chroma) after an ingest, read back as of other dates, and
the HTML health report."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from core.store import catalog
from core.store import state as state_store
from core.store.catalog import apply_reviewed, load_flags
from core.store.flag_states import load_states, mark_reviewed
from ingest.quality.queue import build_queue
from ingest.quality.report import age_histogram, build_health, render_html
from ingest.quality.rules import article_flags
from ingest.quality.run import current_flags, refresh_flags
from ingest.run import IngestOptions, ingest_folder
from tests.ingest.quality_helpers import AS_OF, POLICY, article

BODY = ("## Symptoms\n\nThe VPN drops every few minutes when the laptop is on home Wi-Fi and "
        "Teams calls end at the same time. Users see the Disconnected message in the network "
        "flyout and must reconnect by hand.\n\n## Resolution\n\n1. Turn off power saving for "
        "the Wi-Fi adapter in Device Manager.\n2. Set the power mode to best performance.\n"
        "3. Update the Wi-Fi driver from Company Portal and reconnect the VPN.\n")
OLD = ("## Issue\n\nThe old VPN client shows error 809 when it connects from a hotel or a "
       "guest network, because that network blocks the ports it needs for the tunnel.\n\n"
       "## Resolution\n\n1. Connect through a phone hotspot instead.\n2. Switch the profile "
       "to SSTP in the client settings and save it.\n3. Call the service desk on 4357 if the "
       "error stays after both changes.\n\n"
       "See [the other](missing.md).\n")
MAIL = ("## Problem\n\nA shared mailbox does not appear in Outlook for a user who was given "
        "access yesterday, although the user can open it in Outlook on the web without any "
        "problem.\n\n## Solution\n\n1. Wait one hour for automapping to finish.\n2. Restart "
        "Outlook and check the folder pane again.\n3. Add the mailbox by hand under Account "
        "settings if it is still missing.\n")


def write(root: Path, rel: str, front: str, body: str = BODY) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front}\n---\n# {Path(rel).stem}\n\n{body}", encoding="utf-8")


def small_kb(root: Path) -> None:
    write(root, "network/vpn.md", "title: VPN drops\nowner: tom@n.example\n"
          "last_reviewed: 2026-01-10")
    write(root, "network/old.md", "title: Old VPN\nowner: tom@n.example\n"
          "last_reviewed: 2025-01-10", OLD)
    write(root, "email/dup-a.md", "title: Shared mailbox\nowner: a@n.example\n"
          "last_reviewed: 2026-06-01", MAIL)
    write(root, "email/dup-b.md", "title: Shared mailbox\nowner: b@n.example\n"
          "last_reviewed: 2026-06-01", MAIL)


def test_refresh_stores_flags_and_reconciles_states(tmp_path, index, hashing_embedder):
    small_kb(tmp_path / "kb")
    ingest_folder(tmp_path / "kb", index.conn, index.collection, hashing_embedder,
                  index.paths.bm25, IngestOptions())
    state = state_store.connect(tmp_path / "state.sqlite")
    run = refresh_flags(index.conn, index.collection, state, POLICY, AS_OF)
    found = sorted((f.article_id, f.kind, f.evidence["key"]) for f in run.flags)
    assert found == [("email/dup-a.md", "duplicate", "email/dup-b.md"),
                     ("email/dup-b.md", "duplicate", "email/dup-a.md"),
                     ("network/old.md", "broken-link", "missing.md"),
                     ("network/old.md", "stale", "review-age")]
    assert run.counts() == {"broken-link": 1, "duplicate": 2, "stale": 1}
    assert sorted(f.key for f in load_flags(index.conn)) == sorted(f.key for f in run.flags)
    assert catalog.get_kv(index.conn, "flags_as_of") == "2026-11-25"
    assert run.reconciled.opened == 4
    assert {s.state for s in load_states(state).values()} == {"open"}


def test_date_kinds_are_recomputed_for_another_as_of(tmp_path, index, hashing_embedder):
    small_kb(tmp_path / "kb")
    ingest_folder(tmp_path / "kb", index.conn, index.collection, hashing_embedder,
                  index.paths.bm25, IngestOptions())
    state = state_store.connect(tmp_path / "state.sqlite")
    refresh_flags(index.conn, index.collection, state, POLICY, AS_OF)
    earlier = current_flags(index.conn, POLICY, date(2025, 6, 1))
    assert "stale" not in {f.kind for f in earlier}
    later = current_flags(index.conn, POLICY, date(2027, 6, 5))
    assert sorted(f.article_id for f in later if f.kind == "stale") == [
        "email/dup-a.md", "email/dup-b.md", "network/old.md", "network/vpn.md"]


def test_marked_reviewed_survives_a_reingest(tmp_path, index, hashing_embedder):
    small_kb(tmp_path / "kb")
    options = IngestOptions()
    ingest_folder(tmp_path / "kb", index.conn, index.collection, hashing_embedder,
                  index.paths.bm25, options)
    state = state_store.connect(tmp_path / "state.sqlite")
    mark_reviewed(state, "network/old.md", date(2026, 11, 20), "alice", None)
    assert apply_reviewed(index.conn, {"network/old.md": date(2026, 11, 20)}) == 1
    assert apply_reviewed(index.conn, {"network/old.md": date(2020, 1, 1)}) == 0  # older
    (tmp_path / "kb" / "network" / "old.md").write_text(
        "---\ntitle: Old VPN\nowner: tom@n.example\nlast_reviewed: 2025-01-10\n---\n# old\n\n"
        + OLD + "\nChanged text.\n", encoding="utf-8")
    ingest_folder(tmp_path / "kb", index.conn, index.collection, hashing_embedder,
                  index.paths.bm25, options)
    run = refresh_flags(index.conn, index.collection, state, POLICY, AS_OF)
    assert "stale" not in {f.kind for f in run.flags}
    assert catalog.get_article(index.conn, "network/old.md").last_reviewed == date(2026, 11, 20)


def test_age_histogram_buckets():
    arts = [article(id=f"{n}.md", last_reviewed=d) for n, d in enumerate(
        [date(2026, 11, 1), date(2026, 1, 1), date(2025, 6, 1), date(2019, 1, 1), None])]
    assert age_histogram(arts, AS_OF) == [
        ("under 6 months", 1), ("6-12 months", 1), ("1-2 years", 1), ("2-3 years", 0),
        ("3-5 years", 0), ("over 5 years", 1), ("no review date", 1)]


def test_report_is_self_contained_escaped_and_worst_first():
    evil = article(id="x/<evil>.md", title="<script>alert(1)</script>", owner=None,
                   last_reviewed=None)
    fine = article(id="y/ok.md", title="Fine & dandy", valid_until=date(2026, 11, 1))
    flags = [f for a in (evil, fine) for f in article_flags(a, POLICY, AS_OF)]
    queue = build_queue(flags, {}, {evil.id: evil, fine.id: fine})
    health = build_health(queue, [evil, fine], AS_OF)
    html = render_html(health, "kb flags --as-of 2026-11-25 --report 'r <1>.html'")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "x/&lt;evil&gt;.md" in html and "Fine &amp; dandy" in html
    assert "kb flags --as-of 2026-11-25 --report &#x27;r &lt;1&gt;.html&#x27;" in html
    assert "<svg" in html and not re.search(r"<(link|img|iframe)\b|src=|href=", html)
    titles = re.findall(r"<h3>(.*?)</h3>", html)
    assert titles == ["Fine &amp; dandy", "&lt;script&gt;alert(1)&lt;/script&gt;"]  # expired first
    assert health.by_owner["(no owner)"]["medium"] == 2  # stale (no date) + no owner
