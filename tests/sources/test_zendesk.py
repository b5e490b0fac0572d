"""The Zendesk Guide connector against a local fake Help Center API, and the export importer."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import KbError
from ingest.sources.config import SourceConfig, parse_source
from ingest.sources.http import PlatformClient, RetryPolicy, SourceError, auth_from_env
from ingest.sources.zendesk import ZendeskConnector, connector
from ingest.sources.zendesk_export import read_export
from tests.sources.fake_zendesk import EMAIL, OAUTH, TOKEN, FakeZendesk

DATA = Path(__file__).resolve().parents[1] / "data" / "sources" / "zendesk"
ENV = {"ZD_USER": f"{EMAIL}/token", "ZD_TOKEN": TOKEN, "ZD_OAUTH": OAUTH}
BODY = ('<p>Open the client.</p><p><img src="/hc/article_attachments/1/gw.png" alt="Gateway">'
        '</p><table><tr><td>Port</td><td>443</td></tr></table><pre>vpnctl up</pre>'
        '<p>See <a href="/hc/en-us/articles/360002">the next one</a>.</p>')


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    with FakeZendesk() as server:
        yield server


def make(fake: FakeZendesk, sleeps: list[float] | None = None, locale: str = "en-us",
         env: dict[str, str] | None = None, bearer: bool = False,
         **table: Any) -> tuple[ZendeskConnector, PlatformClient]:
    keys = ({"token_env": "ZD_OAUTH"} if bearer
            else {"username_env": "ZD_USER", "password_env": "ZD_TOKEN"})
    cfg = parse_source("zd", {"type": "zendesk", "url": fake.base_url, "locale": locale,
                              "page_size": 2, **keys, **table})
    auth, headers = auth_from_env(cfg.name, env or ENV, cfg.username_env, cfg.password_env,
                                  cfg.token_env)
    client = PlatformClient(cfg.name, fake.base_url, auth, headers,
                            RetryPolicy(tries=3, backoff_s=0.5),
                            sleep=(sleeps if sleeps is not None else []).append)
    return connector(cfg, client), client


def seed(fake: FakeZendesk) -> dict[str, int]:
    return {"vpn": fake.add("Connect to the VPN", BODY, section_id=11, author_id=501,
                            label_names=["vpn"]),
            "cert": fake.add("Renew a certificate", "<p>Run certutil.</p>", section_id=14,
                             author_id=502, draft=True),
            "mail": fake.add("Set up email", "<p>Use Outlook.</p>", section_id=12,
                             author_id=503, user_segment_id=103),
            "day1": fake.add("Your first day", "<p>Badge at reception.</p>", section_id=13,
                             author_id=501, outdated_locales=["en-us"]),
            "old": fake.add("Old fax guide", "<p>Fax.</p>", section_id=12)}


def records(conn: ZendeskConnector, since: str | None = None) -> dict[str, Any]:
    return {r.id: r for r in conn.changed(since, lambda _: None)}


def test_full_listing_maps_every_field(fake: FakeZendesk) -> None:
    ids = seed(fake)
    conn, _ = make(fake)
    assert conn.list_ids(lambda _: None) == {str(i) for i in ids.values()}
    got = records(conn)
    assert set(got) == {str(i) for i in ids.values()}
    vpn = got[str(ids["vpn"])]
    assert vpn.title == "Connect to the VPN"
    assert vpn.status == "published" and vpn.groups == ()
    assert vpn.category == "IT Services > VPN & Remote Access"
    assert vpn.owner == "ana.lopez@acme.com"
    assert vpn.tags == ("vpn",)
    assert vpn.url == f"{fake.base_url}/hc/en-us/articles/{ids['vpn']}-Connect-to-the-VPN"
    assert vpn.updated == "2026-11-01T00:01:00Z" and vpn.last_reviewed == "2026-11-01"
    assert vpn.body_html == (
        '<p>Open the client.</p><p>[Gateway]</p><table><tr><td>Port</td><td>443</td></tr>'
        '</table><pre><code>vpnctl up</code></pre><p>See <a href="'
        f'{fake.base_url}/hc/en-us/articles/360002">the next one</a>.</p>')
    cert = got[str(ids["cert"])]
    assert cert.status == "draft"
    assert cert.category == "IT Services > VPN & Remote Access > Certificates"
    assert cert.owner == "raj.patel@acme.com"
    assert got[str(ids["mail"])].groups == ("IT Staff",)
    day1 = got[str(ids["day1"])]
    assert day1.status == "published" and day1.tags == ("outdated-translation",)
    assert day1.category == "People > Onboarding"


def test_pagination_is_followed_to_the_end(fake: FakeZendesk) -> None:
    ids = fake.generate(7)
    conn, client = make(fake)
    assert conn.list_ids(lambda _: None) == {str(i) for i in ids}
    pages = [r for r in fake.requests if r.startswith("/api/v2/help_center/en-us/articles")]
    assert len(pages) == 4  # 2 + 2 + 2 + 1 with page[size]=2
    assert all("page%5Bsize%5D=2" in p for p in pages)
    assert sum("page%5Bafter%5D" in p for p in pages) == 3
    assert sum(1 for r in fake.requests if r.startswith("/api/v2/users/show_many")) == 0
    assert len(records(conn)) == 7
    client.close()


def test_changed_since_returns_only_new_and_edited(fake: FakeZendesk) -> None:
    ids = seed(fake)
    conn, _ = make(fake)
    first = records(conn)
    watermark = max(r.updated for r in first.values())
    fake.edit(ids["mail"], body="<p>Use the new Outlook.</p>")
    new = fake.add("Printer setup", "<p>Add the printer.</p>", section_id=12)
    before = len(fake.requests)
    changed = records(conn, watermark)
    # the first page, then its next_page (start_time = end_time) that only repeats the last one
    assert [r.split("?")[0] for r in fake.requests[before:]] == [
        "/api/v2/help_center/incremental/articles",
        "/api/v2/help_center/incremental/articles.json"]
    # the watermark's own article comes again (inclusive), plus the edited and the new one
    assert set(changed) == {str(ids["old"]), str(ids["mail"]), str(new)}
    assert changed[str(ids["mail"])].body_html == "<p>Use the new Outlook.</p>"
    later = max(r.updated for r in changed.values())
    assert set(records(conn, later)) == {str(new)}


def test_incremental_export_pages_follow_end_time(fake: FakeZendesk) -> None:
    fake.incremental_page_size = 2
    ids = fake.generate(5)
    conn, _ = make(fake)
    progress: list[str] = []
    got = {r.id for r in conn.changed("2026-11-01T00:00:00Z", progress.append)}
    assert got == {str(i) for i in ids}
    starts = [r for r in fake.requests if r.startswith("/api/v2/help_center/incremental")]
    # each next page starts at the previous end_time, so it repeats the boundary article:
    # [1 2] [2 3] [3 4] [4 5] [5], and the last one's end_time does not move: the end
    assert len(starts) == 5 and len(progress) == 5


def test_edited_at_is_last_reviewed_and_metadata_change_keeps_it(fake: FakeZendesk) -> None:
    ids = seed(fake)
    conn, _ = make(fake)
    before = records(conn)[str(ids["vpn"])]
    fake.edit(ids["vpn"], label_names=["vpn", "remote"])
    after = records(conn, before.updated)[str(ids["vpn"])]
    assert after.updated > before.updated
    assert after.last_reviewed == before.last_reviewed == "2026-11-01"
    assert after.tags == ("vpn", "remote")


def test_archived_and_deleted_articles_disappear(fake: FakeZendesk) -> None:
    ids = seed(fake)
    conn, _ = make(fake)
    watermark = max(r.updated for r in records(conn).values())
    fake.archive(ids["old"])
    fake.delete(ids["day1"])
    listed = conn.list_ids(lambda _: None)
    assert listed == {str(ids[k]) for k in ("vpn", "cert", "mail")}
    # the incremental export still reports the archived article; it is not a record
    _, _, export = fake.incremental({"start_time": str(fake.articles[ids["old"]].updated_at)})
    assert [a["id"] for a in export["articles"]] == [ids["old"]]
    assert records(conn, watermark) == {}


def test_segment_change_is_reflected_in_groups(fake: FakeZendesk) -> None:
    ids = seed(fake)
    conn, _ = make(fake)
    watermark = max(r.updated for r in records(conn).values())
    fake.edit(ids["vpn"], user_segment_id=102)
    fake.edit(ids["mail"], user_segment_id=None)
    fake.edit(ids["day1"], user_segment_id=999)  # a segment this account cannot see
    got = records(conn, watermark)
    assert got[str(ids["vpn"])].groups == ("Agents and admins",)
    assert got[str(ids["mail"])].groups == ()
    assert got[str(ids["day1"])].groups == ("zendesk-segment-999",)


def test_scope_by_section_category_or_path(fake: FakeZendesk) -> None:
    ids = seed(fake)
    conn, _ = make(fake, knowledge_bases=["VPN & Remote Access"])
    assert conn.list_ids(lambda _: None) == {str(ids["vpn"]), str(ids["cert"])}
    conn, _ = make(fake, knowledge_bases=["People", "IT Services > Email"])
    assert conn.list_ids(lambda _: None) == {str(ids[k]) for k in ("mail", "day1", "old")}
    watermark = max(r.updated for r in records(conn).values())
    fake.edit(ids["mail"], section_id=11)  # moved out of scope
    fake.edit(ids["vpn"], section_id=13)  # moved into scope
    assert conn.list_ids(lambda _: None) == {str(ids[k]) for k in ("vpn", "day1", "old")}
    # the moved-in article, and the watermark's own one again (since is inclusive)
    assert set(records(conn, watermark)) == {str(ids["vpn"]), str(ids["old"])}


def test_unknown_scope_is_an_error_not_an_empty_listing(fake: FakeZendesk) -> None:
    seed(fake)
    conn, _ = make(fake, knowledge_bases=["Networking"])
    with pytest.raises(SourceError, match="'Networking'"):
        conn.list_ids(lambda _: None)


def test_other_locale_uses_the_translation(fake: FakeZendesk) -> None:
    ids = seed(fake)
    fake.translate(ids["vpn"], "de", "VPN verbinden", "<p>Client öffnen.</p>")
    conn, _ = make(fake, locale="de")
    assert conn.list_ids(lambda _: None) == {str(ids["vpn"])}
    fake.edit(ids["mail"], body="<p>English only.</p>")
    got = records(conn, "2026-11-01T00:00:00Z")
    assert set(got) == {str(ids["vpn"])}
    assert got[str(ids["vpn"])].title == "VPN verbinden"
    assert got[str(ids["vpn"])].url == f"{fake.base_url}/hc/de/articles/{ids['vpn']}-VPN-verbinden"
    assert f"/api/v2/help_center/de/articles/{ids['vpn']}" in fake.requests
    fresh, _ = make(fake, locale="de")  # no listing first: untranslated ones answer 404
    assert set(records(fresh, "2026-11-01T00:00:00Z")) == {str(ids["vpn"])}
    assert f"/api/v2/help_center/de/articles/{ids['mail']}" in fake.requests


def test_bearer_token_is_accepted(fake: FakeZendesk) -> None:
    ids = seed(fake)
    conn, _ = make(fake, bearer=True)
    assert len(conn.list_ids(lambda _: None)) == len(ids)


def test_rate_limit_waits_for_retry_after(fake: FakeZendesk) -> None:
    seed(fake)
    sleeps: list[float] = []
    conn, client = make(fake, sleeps)
    fake.rate_limit_next(7)
    assert len(conn.list_ids(lambda _: None)) == 5
    assert sleeps == [7.0]
    assert client.requests == len(fake.requests)


def test_server_error_then_success(fake: FakeZendesk) -> None:
    seed(fake)
    sleeps: list[float] = []
    conn, _ = make(fake, sleeps)
    conn.names()
    fake.fail_next(500)
    assert len(records(conn)) == 5
    assert sleeps == [0.5]
    lists = [r for r in fake.requests if r.startswith("/api/v2/help_center/en-us/articles")]
    assert len(lists) == 4  # 3 pages of 2, the first one twice


def test_permanent_failure_raises_without_secrets(fake: FakeZendesk) -> None:
    seed(fake)
    conn, _ = make(fake)
    fake.fail_after_pages(1)
    got: list[str] = []
    with pytest.raises(SourceError) as err:
        for record in conn.changed(None, lambda _: None):
            got.append(record.id)
    assert len(got) == 2  # the first page was read, then the failure stops the sync
    message = str(err.value)
    assert "failed after 3 tries: HTTP 500" in message
    assert TOKEN not in message and EMAIL not in message and OAUTH not in message


def test_wrong_credentials_are_refused(fake: FakeZendesk) -> None:
    seed(fake)
    conn, _ = make(fake, env={"ZD_USER": f"{EMAIL}/token", "ZD_TOKEN": "wrong-token-99"})
    with pytest.raises(SourceError, match="HTTP 401") as err:
        conn.list_ids(lambda _: None)
    assert "wrong-token-99" not in str(err.value) and EMAIL not in str(err.value)


def test_synthetic_records_all_map(fake: FakeZendesk) -> None:
    ids = fake.generate(30)
    conn, _ = make(fake, page_size=100)
    got = records(conn)
    assert set(got) == {str(i) for i in ids}
    assert sum(r.status == "draft" for r in got.values()) == 3  # i = 5, 16, 27
    assert sum(r.groups == ("IT Staff",) for r in got.values()) == 4  # i = 3, 10, 17, 24
    assert all("<table>" in r.body_html and "<pre><code>" in r.body_html
               for r in got.values())


# --- export import -------------------------------------------------------------------------

def cfg(**kw: Any) -> SourceConfig:
    return SourceConfig("zd", "zendesk", url="https://acme.zendesk.com", **kw)


def test_export_pages_with_sideloads(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        got = {r.id: r for r in read_export(DATA / "articles_export.json", cfg())}
    assert set(got) == {"4410001", "4410002", "4410003"}
    vpn = got["4410001"]  # the later page's version wins
    assert vpn.updated == "2026-11-28T14:05:00Z" and vpn.last_reviewed == "2026-11-27"
    assert vpn.tags == ("vpn", "remote", "outdated-translation")
    assert vpn.category == "IT Services > VPN & Remote Access"
    assert vpn.owner == "ana.lopez@acme.com"
    assert vpn.body_html == (
        "<p>Open the client and pick <b>Acme-GW</b>.</p><table><tr><th>Field</th><th>Value"
        "</th></tr><tr><td>Gateway</td><td>vpn.acme.com</td></tr></table><p>[Gateway field]"
        '</p><p>If it fails see <a href="https://acme.zendesk.com/hc/en-us/articles/4410002">'
        "Renew a certificate</a>.</p>")
    cert = got["4410002"]
    assert cert.status == "draft" and cert.groups == ("IT Staff",)
    assert cert.body_html == ("<p>Run:</p><pre><code>certutil -renew</code></pre>"
                              "<p>[renew dialog.png]</p>")
    assert cert.category == "IT Services > VPN & Remote Access > Certificates"
    assert "4410005" in caplog.text and "skipped" in caplog.text
    assert "1 article(s) in other locales than en-us skipped" in caplog.text


def test_export_scope_filters_by_section_names() -> None:
    got = {r.id for r in read_export(DATA / "articles_export.json",
                                     cfg(scopes=("Certificates", "People")))}
    assert got == {"4410002", "4410003"}


def test_jsonl_export_without_sections_or_segments(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        got = {r.id: r for r in read_export(DATA / "articles.jsonl", cfg())}
    assert set(got) == {"5520001", "5520002"}
    assert got["5520001"].category == "12" and got["5520001"].groups == ()
    assert got["5520001"].owner is None
    assert got["5520002"].groups == ("zendesk-segment-360000777",)
    assert "user segment 360000777 cannot be named" in caplog.text
    assert "line 4" in caplog.text  # the record without a title
    with pytest.raises(KbError, match="no sections"):
        list(read_export(DATA / "articles.jsonl", cfg(scopes=("Email",))))


def test_broken_export_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": 1, "title": "a", "body": "<p>b</p>"}\n{"id": 2,\n')
    with pytest.raises(KbError, match=r"broken\.jsonl: line 2: not JSON"):
        list(read_export(broken, cfg()))
    page = tmp_path / "page.json"
    page.write_text('{"articles": [{"title": "no id", "body": "<p>x</p>"}]}')
    with pytest.raises(KbError, match=r"page\.json: page 1 article 1: the article has no id"):
        list(read_export(page, cfg()))
