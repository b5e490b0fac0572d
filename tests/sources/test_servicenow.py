"""The ServiceNow connector against a real local HTTP fake of the Table API, and the importer
against export files in ServiceNow's own formats."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.errors import KbError
from ingest.sources.config import SourceConfig
from ingest.sources.http import PlatformClient, RetryPolicy, SourceError, auth_from_env
from ingest.sources.record import SourceRecord
from ingest.sources.servicenow import (
    CANNOT_READ_GROUP,
    clean_body,
    connector,
    glide_time,
)
from ingest.sources.servicenow_export import read_export
from tests.sources.fake_servicenow import PASSWORD, TOKEN, USERNAME, FakeServiceNow, serve

DATA = Path(__file__).parent.parent / "data" / "sources" / "servicenow"
ENV = {"SN_USER": USERNAME, "SN_PASSWORD": PASSWORD, "SN_TOKEN": TOKEN}


@pytest.fixture
def fake() -> FakeServiceNow:
    return FakeServiceNow()


@pytest.fixture
def url(fake: FakeServiceNow) -> Iterator[str]:
    with serve(fake) as base_url:
        yield base_url


class Sync:
    """A connector on the fake with page size 2, recording waits and progress lines."""

    def __init__(self, url: str, scopes: tuple[str, ...] = ("IT",), token: bool = False,
                 password: str = PASSWORD, review_date_field: str | None = None) -> None:
        self.cfg = SourceConfig("it", "servicenow", url=url, scopes=scopes, page_size=2,
                                username_env=None if token else "SN_USER",
                                password_env=None if token else "SN_PASSWORD",
                                token_env="SN_TOKEN" if token else None,
                                review_date_field=review_date_field)
        auth, headers = auth_from_env("it", dict(ENV, SN_PASSWORD=password), self.cfg.username_env,
                                      self.cfg.password_env, self.cfg.token_env)
        self.sleeps: list[float] = []
        self.progress: list[str] = []
        self.client = PlatformClient("it", url, auth, headers,
                                     RetryPolicy(tries=3, backoff_s=2.0), sleep=self.sleeps.append)
        self.connector = connector(self.cfg, self.client)

    def ids(self) -> set[str]:
        return self.connector.list_ids(self.progress.append)

    def changed(self, since: str | None = None) -> dict[str, SourceRecord]:
        return {r.id: r for r in self.connector.changed(since, self.progress.append)}


def article_requests(fake: FakeServiceNow) -> list[dict[str, str]]:
    return [params for path, params in fake.requests if path.endswith("/kb_knowledge")]


def test_full_listing_maps_every_field_and_follows_pages(fake: FakeServiceNow, url: str) -> None:
    it = fake.generate(5, kbs=("IT",))
    fake.add_article("Parental leave", "<p>16 weeks.</p>", kb="HR")
    sync = Sync(url)
    assert sync.ids() == set(it)
    listing = article_requests(fake)
    assert [p["sysparm_offset"] for p in listing] == ["0", "2", "4"]
    assert listing[0]["sysparm_query"] == "kb_knowledge_base.titleINIT^ORDERBYsys_created_on"
    assert listing[0]["sysparm_fields"] == "number,sys_id,workflow_state,latest,version"
    assert sync.progress[-1] == "source it: articles 5/5"

    records = sync.changed()
    assert list(records) == it
    first = records[it[0]]
    stamp = fake.versions(it[0])[0]["sys_updated_on"]
    assert first == SourceRecord(
        id="KB0010001", title="How to fix problem 0 with the VPN client",
        body_html=first.body_html, updated=stamp.replace(" ", "T") + "Z", status="published",
        owner="ana.lopez@example.com", groups=("Employees",), category="Network / VPN",
        tags=("vpn", "remote access", "topic0"),
        url=f"{url}/kb_view.do?sysparm_article=KB0010001", last_reviewed=stamp[:10],
        valid_until="2027-12-31")
    assert records[it[1]].groups == ()
    query = article_requests(fake)[3]
    assert query["sysparm_display_value"] == "all"
    assert query["sysparm_exclude_reference_link"] == "true"
    assert query["sysparm_query"] == "kb_knowledge_base.titleINIT^ORDERBYsys_updated_on"
    criteria = [p for path, p in fake.requests if path.endswith("/user_criteria")]
    assert len(criteria) == 1 and criteria[0]["sysparm_fields"] == "sys_id,name"


def test_body_keeps_code_and_tables_and_rewrites_images_and_links(fake: FakeServiceNow,
                                                                   url: str) -> None:
    numbers = fake.generate(2, kbs=("IT",))
    body = Sync(url).changed()[numbers[1]].body_html
    assert '<pre class="language-powershell"><code>Get-VpnConnection -Name "Corp"' in body
    assert "<pre><code>ipconfig /flushdns</code></pre>" in body
    assert "<table><thead><tr><th>Error</th>" in body and "<td>809</td>" in body
    assert "<img" not in body
    assert "Check the settings: VPN settings dialog</li>" in body
    assert "Compare with vpn_client_ok.png</li>" in body
    target = f'href="{url}/kb_view.do?sysparm_article={numbers[0]}"'
    assert body.count(target) == 2   # the kb_view link and the portal link


def test_changed_since_returns_only_edits_and_new_articles(fake: FakeServiceNow,
                                                           url: str) -> None:
    numbers = fake.generate(4, kbs=("IT",))
    sync = Sync(url)
    watermark = max(r.updated for r in sync.changed().values())
    fake.edit(numbers[1], text="<p>Now use the new client.</p>")
    new = fake.add_article("Wi-Fi guest access", "<p>Ask reception.</p>")
    changed = sync.changed(watermark)
    # inclusive: the article at the watermark comes again
    assert set(changed) == {numbers[3], numbers[1], new}
    assert changed[numbers[1]].body_html == "<div><p>Now use the new client.</p></div>"
    assert article_requests(fake)[-1]["sysparm_query"] == (
        f"kb_knowledge_base.titleINIT^sys_updated_on>={glide_time(watermark)}"
        "^ORDERBYsys_updated_on")
    assert sync.changed(max(r.updated for r in changed.values())).keys() == {new}


def test_statuses_retired_drafts_and_review(fake: FakeServiceNow, url: str) -> None:
    live = fake.add_article("Live", "<p>a</p>")
    draft = fake.add_article("Draft", "<p>b</p>", state="draft")
    review = fake.add_article("In review", "<p>c</p>", state="review")
    retired = fake.add_article("Old", "<p>d</p>")
    fake.retire(retired)
    leaving = fake.add_article("Leaving", "<p>e</p>", state="pending_retirement")
    later = fake.add_article("Later", "<p>f</p>", state="scheduled_publish")
    odd = fake.add_article("Odd", "<p>g</p>", state="u_custom")
    sync = Sync(url)
    assert sync.ids() == {live, draft, review, retired, leaving, later, odd}
    statuses = {n: r.status for n, r in sync.changed().items()}
    assert statuses == {live: "published", draft: "draft", review: "draft", retired: "retired",
                        leaving: "published", later: "draft", odd: "draft"}


def test_checked_out_draft_keeps_the_published_version(fake: FakeServiceNow, url: str) -> None:
    number = fake.add_article("VPN", "<p>version one</p>")
    sync = Sync(url)
    watermark = sync.changed()[number].updated
    fake.checkout(number, text="<p>version two, unfinished</p>")
    record = sync.changed(watermark)[number]
    assert (record.status, record.body_html) == ("published", "<div><p>version one</p></div>")
    # the draft alone matched the watermark: the other versions were fetched by number
    assert article_requests(fake)[-1]["sysparm_query"] == (
        f"kb_knowledge_base.titleINIT^numberIN{number}^ORDERBYnumber")
    assert record.updated > watermark
    fake.publish(number)
    record = sync.changed(record.updated)[number]
    assert (record.status, record.body_html) == ("published",
                                                 "<div><p>version two, unfinished</p></div>")
    assert sync.ids() == {number}
    fake.retire(number)
    assert sync.changed(record.updated)[number].status == "retired"


def test_unversioned_instance_needs_no_version_lookups(fake: FakeServiceNow, url: str) -> None:
    numbers = [fake.add_article(f"Article {i}", "<p>x</p>", versioned=False) for i in range(3)]
    records = Sync(url).changed()
    assert list(records) == numbers
    assert not any("numberIN" in p["sysparm_query"] for p in article_requests(fake))


def test_out_of_scope_and_deleted_articles_leave_the_listing(fake: FakeServiceNow,
                                                             url: str) -> None:
    keep, move, gone = (fake.add_article(t, "<p>x</p>") for t in ("Keep", "Move", "Gone"))
    sync = Sync(url)
    assert sync.ids() == {keep, move, gone}
    fake.move(move, "HR")
    fake.delete(gone)
    assert sync.ids() == {keep}
    assert set(sync.changed()) == {keep}
    assert Sync(url, scopes=()).ids() == {keep, move}


def test_permission_changes_reach_the_groups(fake: FakeServiceNow, url: str) -> None:
    number = fake.add_article("Payroll", "<p>x</p>", can_read=("Employees", "HR Staff"))
    sync = Sync(url)
    first = sync.changed()[number]
    assert first.groups == ("Employees", "HR Staff")
    fake.set_criteria(number, can_read=("HR Staff",))
    second = sync.changed(first.updated)[number]
    assert second.groups == ("HR Staff",)
    fake.set_criteria(number, can_read=("HR Staff",), cannot_read=("Contractors",))
    third = sync.changed(second.updated)[number]
    assert third.groups == (CANNOT_READ_GROUP,)
    fake.set_criteria(number, cannot_read=("Contractors",))
    fourth = sync.changed(third.updated)[number]
    assert fourth.groups == (CANNOT_READ_GROUP,)
    fake.set_criteria(number)
    assert sync.changed(fourth.updated)[number].groups == ()


def test_deleted_user_criteria_fail_closed(fake: FakeServiceNow, url: str) -> None:
    number = fake.add_article("Payroll", "<p>x</p>", can_read=("Ghost",))
    ghost = fake.latest(number)["can_read_user_criteria"]
    fake.tables["user_criteria"].clear()
    assert Sync(url).changed()[number].groups == (f"user_criteria:{ghost}",)


def test_review_date_field_feeds_last_reviewed(fake: FakeServiceNow, url: str) -> None:
    number = fake.add_article("Reviewed", "<p>x</p>")
    fake.edit(number, u_last_review="2026-10-15")
    record = Sync(url, review_date_field="u_last_review").changed()[number]
    assert record.last_reviewed == "2026-10-15"
    assert "u_last_review" in article_requests(fake)[-1]["sysparm_fields"].split(",")


def test_unmappable_article_is_skipped_with_a_warning(fake: FakeServiceNow, url: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    empty = fake.add_article("Empty", "")
    good = fake.add_article("Good", "<p>x</p>")
    with caplog.at_level(logging.WARNING):
        assert set(Sync(url).changed()) == {good}
    assert f"skipping article {empty}" in caplog.text and "no text" in caplog.text


def test_rate_limit_waits_for_retry_after(fake: FakeServiceNow, url: str) -> None:
    numbers = fake.generate(3, kbs=("IT",))
    sync = Sync(url)
    fake.rate_limit_next(7)
    assert sync.ids() == set(numbers)
    assert sync.sleeps == [7.0]


def test_server_error_then_success_is_retried(fake: FakeServiceNow, url: str) -> None:
    numbers = fake.generate(3, kbs=("IT",))
    sync = Sync(url)
    fake.fail_next(500)
    assert set(sync.changed()) == set(numbers)
    assert sync.sleeps == [2.0]


@pytest.mark.parametrize("token", [False, True])
def test_permanent_failure_raises_without_secrets(fake: FakeServiceNow, url: str,
                                                  token: bool) -> None:
    fake.generate(3, kbs=("IT",))
    sync = Sync(url, token=token)
    fake.fail_next(500, 3)
    with pytest.raises(SourceError) as raised:
        sync.ids()
    message = str(raised.value)
    assert "failed after 3 tries: HTTP 500" in message and "/api/now/table/kb_knowledge" in message
    assert PASSWORD not in message and TOKEN not in message and USERNAME not in message


def test_failure_after_some_pages_raises(fake: FakeServiceNow, url: str) -> None:
    fake.generate(5, kbs=("IT",))
    sync = Sync(url)
    fake.fail_after_pages(1)
    got: list[str] = []
    with pytest.raises(SourceError, match="HTTP 500"):
        for record in sync.connector.changed(None, sync.progress.append):
            got.append(record.id)
    assert len(got) == 2   # the first page came through before the failure


def test_wrong_password_is_refused(fake: FakeServiceNow, url: str) -> None:
    fake.generate(1, kbs=("IT",))
    with pytest.raises(SourceError, match="HTTP 401") as raised:
        Sync(url, password="not-the-password").ids()
    assert "not-the-password" not in str(raised.value)


def test_bearer_token_works(fake: FakeServiceNow, url: str) -> None:
    numbers = fake.generate(2, kbs=("IT",))
    assert Sync(url, token=True).ids() == set(numbers)


def test_fake_runs_standalone() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sources.fake_servicenow", "--port", "0", "--records", "3"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent.parent)
    try:
        assert process.stdout is not None
        first = process.stdout.readline().split()
        base = first[first.index("at") + 1]
        answer = httpx.get(f"{base}/api/now/table/kb_knowledge",
                           params={"sysparm_fields": "number"}, auth=(USERNAME, PASSWORD))
        assert answer.json() == {"result": [{"number": f"KB001000{i}"} for i in (1, 2, 3)]}
        assert httpx.get(f"{base}/api/now/table/kb_knowledge").status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- export import -----------------------------------------------------------------------------

def it_config(scopes: tuple[str, ...] = ("IT",), review: str | None = None) -> SourceConfig:
    return SourceConfig("it", "servicenow", url="https://acme.service-now.com", scopes=scopes,
                        review_date_field=review)


def test_xml_export_maps_versions_statuses_and_scope(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        records = {r.id: r for r in read_export(DATA / "kb_knowledge.xml", it_config())}
    assert sorted(records) == ["KB0010001", "KB0010002", "KB0010003", "KB0010004", "KB0010007"]
    assert "KB0010006" in caplog.text and "no text" in caplog.text
    vpn = records["KB0010001"]
    assert vpn == SourceRecord(
        id="KB0010001", title="Connect to the corporate VPN", body_html=vpn.body_html,
        updated="2026-11-20T14:30:00Z", status="published", owner="Ana Lopez",
        groups=("user_criteria:0c441abbc6112275000025157c651c89",), category="VPN",
        tags=("vpn", "remote access", "GlobalProtect"),
        url="https://acme.service-now.com/kb_view.do?sysparm_article=KB0010001",
        last_reviewed="2026-11-20", valid_until="2027-06-30")
    assert "Old instructions" not in vpn.body_html
    assert '<pre class="language-powershell"><code>Get-VpnConnection' in vpn.body_html
    assert "<td>809</td>" in vpn.body_html and "GlobalProtect sign-in window If it" in vpn.body_html
    assert ('href="https://acme.service-now.com/kb_view.do?sysparm_article=KB0010002"'
            in vpn.body_html)
    error = records["KB0010002"]
    assert ('href="https://acme.service-now.com/kb_view.do?sysparm_article=KB0010001"'
            in error.body_html)
    assert "<pre><code>Test-NetConnection" in error.body_html
    assert error.tags == ("vpn", "809", "firewall") and error.owner == "Bo Chen"
    assert records["KB0010003"].status == "draft"
    assert records["KB0010004"].status == "retired"
    password = records["KB0010007"]
    assert (password.status, password.title) == ("published", "Reset your password")
    assert password.updated == "2026-11-28T09:00:00Z"


def test_xml_export_review_field_and_all_scopes() -> None:
    records = {r.id: r for r in read_export(DATA / "kb_knowledge.xml",
                                            it_config(scopes=(), review="u_last_review"))}
    assert "KB0010005" in records
    assert records["KB0010002"].last_reviewed == "2026-10-15"


def test_json_export_uses_display_values() -> None:
    records = {r.id: r for r in read_export(DATA / "kb_knowledge.json", it_config(scopes=()))}
    laptop = records["KB0020001"]
    assert (laptop.owner, laptop.category, laptop.groups) == (
        "ana.lopez@example.com", "IT / Hardware", ("Employees", "Contractors"))
    assert (laptop.valid_until, laptop.updated) == ("2027-12-31", "2026-11-29T09:15:00Z")
    assert 'href="https://acme.service-now.com/sp?id=sc_cat_item&amp;sys_id=abc"' in \
        laptop.body_html
    assert records["KB0020002"].groups == (CANNOT_READ_GROUP,)
    assert records["KB0020003"].status == "draft"


def test_xml_with_entities_is_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    export = tmp_path / "xxe.xml"
    export.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE unload [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        "<unload><kb_knowledge><number>KB1</number><short_description>&xxe;</short_description>"
        "<text>&xxe;</text></kb_knowledge></unload>")
    with pytest.raises(KbError) as raised:
        list(read_export(export, it_config(scopes=())))
    assert str(export) in str(raised.value) and "DOCTYPE" in str(raised.value)
    assert "TOP-SECRET-VALUE" not in str(raised.value)


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    export = tmp_path / "laughs.xml"
    export.write_text(f'<?xml version="1.0"?><!DOCTYPE unload [{entities}]>'
                      "<unload><kb_knowledge><text>&a9;</text></kb_knowledge></unload>")
    with pytest.raises(KbError, match="DOCTYPE"):
        list(read_export(export, it_config(scopes=())))


def test_broken_exports_name_the_file_and_line(tmp_path: Path) -> None:
    xml = tmp_path / "broken.xml"
    xml.write_text('<?xml version="1.0"?>\n<unload>\n<kb_knowledge><number>KB1</number>\n'
                   "<text>unclosed</kb_knowledge></unload>")
    with pytest.raises(KbError, match=r"broken\.xml: line 4: not a well-formed XML export"):
        list(read_export(xml, it_config()))
    bad = tmp_path / "broken.json"
    bad.write_text('{"result": [\n{"number": "KB1",}\n]}')
    with pytest.raises(KbError, match=r"broken\.json: line 2: not valid JSON"):
        list(read_export(bad, it_config()))
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"records": []}')
    with pytest.raises(KbError, match=r"wrong\.json: expected a Table API answer"):
        list(read_export(wrong, it_config()))


def test_watermarks_become_utc_glide_times() -> None:
    assert glide_time("2026-11-30T09:15:00Z") == "2026-11-30 09:15:00"
    assert glide_time("2026-11-30T10:15:00+01:00") == "2026-11-30 09:15:00"


def test_bad_settings_are_refused(fake: FakeServiceNow, url: str) -> None:
    with pytest.raises(SourceError, match="review_date_field must be a field name"):
        Sync(url, review_date_field="sys_updated_on^ORDERBYnumber")
    with pytest.raises(SourceError, match="not an ISO timestamp"):
        list(Sync(url).connector.changed("yesterday", print))


def test_scripts_are_dropped_and_plain_pre_gets_code() -> None:
    body = clean_body('<p>a</p><script>alert(1)</script>b<style>p{}</style><pre>x<b>y</b></pre>',
                      "https://acme.service-now.com", {})
    assert body == "<div><p>a</p>b<pre><code>x<b>y</b></code></pre></div>"
