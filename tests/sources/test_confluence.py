"""The Confluence connector against a real local HTTP fake (Cloud v2 and Data Center), the
storage-format renderer, and the HTML space-export importer."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.errors import KbError
from ingest.sources.config import parse_source
from ingest.sources.confluence import USERS_ONLY_GROUP, connector
from ingest.sources.confluence_export import read_export
from ingest.sources.confluence_storage import render_storage
from ingest.sources.http import PlatformClient, RetryPolicy, SourceError
from ingest.sources.record import SourceRecord
from tests.sources.fake_confluence import PAT, TOKEN, USER, FakeConfluence, FakePage

EXPORT_DIR = Path(__file__).resolve().parents[1] / "data" / "sources" / "confluence" / "export"
APIS = ("cloud", "datacenter")


@pytest.fixture
def fake() -> Iterator[FakeConfluence]:
    server = FakeConfluence()
    server.start()
    yield server
    server.stop()


class Site:
    """The seeded IT space: a small tree with links, restrictions and every status."""

    def __init__(self, fake: FakeConfluence) -> None:
        self.home = fake.add_page("IT", "IT Home", "<p>Start here.</p>")
        self.network = fake.add_page("IT", "Network", "<p>Network articles.</p>", self.home.id)
        self.printer = fake.add_page("IT", "Printer Fix", "<p>Restart the spooler.</p>",
                                     self.home.id)
        self.vpn = fake.add_page(
            "IT", "VPN Setup",
            '<p>Install&nbsp;it.</p><table><tbody><tr><th>Port</th></tr><tr><td>443</td></tr>'
            '</tbody></table><ac:structured-macro ac:name="code"><ac:parameter '
            'ac:name="language">powershell</ac:parameter><ac:plain-text-body><![CDATA['
            "Restart-Service vpnagent -Force]]></ac:plain-text-body></ac:structured-macro>"
            '<p><ac:image><ri:attachment ri:filename="vpn-client.png" /></ac:image></p>'
            '<p>See <ac:link><ri:page ri:content-title="Printer Fix" /></ac:link>.</p>',
            self.network.id, labels=["vpn", "remote-access"])
        self.payroll = fake.add_page("IT", "Payroll Access", "<p>HR only.</p>", self.home.id,
                                     groups=["hr-staff"])
        self.salaries = fake.add_page("IT", "Salary Bands", "<p>Named people only.</p>",
                                      self.payroll.id, users=["ceo"])
        self.old = fake.add_page("IT", "Old Proxy", "<p>Gone.</p>", self.network.id)
        fake.retire(self.old.id)
        self.binned = fake.add_page("IT", "Binned", "<p>In the trash.</p>", self.home.id)
        fake.trash(self.binned.id)
        self.hr = fake.add_page("HR", "HR Home", "<p>Another space.</p>")

    def listed(self, api: str) -> set[str]:
        pages = [self.home, self.network, self.printer, self.vpn, self.payroll, self.salaries]
        return {p.id for p in pages} | ({self.old.id} if api == "cloud" else set())


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(fake: FakeConfluence, api: str, sleeps: Sleeps | None = None, page_size: int = 2,
         secret: str | None = None, url: str | None = None) -> Any:
    url = url or fake.base_url
    cfg = parse_source("it", {"type": "confluence", "url": url, "spaces": ["IT"],
                              "api": api, "page_size": page_size})
    if api == "cloud":
        auth, headers = httpx.BasicAuth(USER, secret or TOKEN), {}
    else:
        auth, headers = None, {"Authorization": f"Bearer {secret or PAT}"}
    client = PlatformClient("it", url, auth=auth, headers=headers,
                            policy=RetryPolicy(tries=3, backoff_s=0.5, timeout_s=10),
                            sleep=sleeps if sleeps is not None else Sleeps())
    return connector(cfg, client)


def sync(conn: Any, since: str | None = None) -> tuple[set[str], dict[str, SourceRecord]]:
    lines: list[str] = []
    ids = conn.list_ids(lines.append)
    records = {r.id: r for r in conn.changed(since, lines.append)}
    assert lines, "one progress line per page fetched"
    return ids, records


def stamp(page: FakePage) -> str:
    return page.updated.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("api", APIS)
def test_full_sync_maps_every_field(fake: FakeConfluence, api: str) -> None:
    site = Site(fake)
    ids, records = sync(make(fake, api))
    assert ids == site.listed(api)
    assert set(records) == site.listed(api)
    vpn = records[site.vpn.id]
    base = fake.base_url + ("/wiki" if api == "cloud" else "")
    printer_url = (f"{base}/spaces/IT/pages/{site.printer.id}/Printer+Fix" if api == "cloud"
                   else f"{base}/display/IT/Printer+Fix")
    assert vpn.title == "VPN Setup"
    assert vpn.body_html == (
        "<p>Install\xa0it.</p><table><tbody><tr><th>Port</th></tr><tr><td>443</td></tr>"
        '</tbody></table><pre><code class="language-powershell">Restart-Service vpnagent -Force'
        f'</code></pre><p>vpn-client.png</p><p>See <a href="{printer_url}">Printer Fix</a>.</p>')
    assert vpn.category == "IT Home > Network"
    assert vpn.tags == ("vpn", "remote-access")
    assert (vpn.status, vpn.groups) == ("published", ())
    assert vpn.updated == stamp(site.vpn)
    assert vpn.last_reviewed == stamp(site.vpn)[:10]
    assert vpn.url == (f"{base}/spaces/IT/pages/{site.vpn.id}/VPN+Setup" if api == "cloud"
                       else f"{base}/display/IT/VPN+Setup")
    assert records[site.home.id].category is None
    assert records[site.payroll.id].groups == ("hr-staff",)
    # restricted to a named user under an hr-staff page: no kb group may read it
    assert records[site.salaries.id].groups == (USERS_ONLY_GROUP,)
    if api == "cloud":
        assert records[site.old.id].status == "retired"
    assert site.binned.id not in ids and site.hr.id not in ids


@pytest.mark.parametrize("api", APIS)
def test_changed_since_returns_only_edited_and_new(fake: FakeConfluence, api: str) -> None:
    site = Site(fake)
    _, first = sync(make(fake, api))
    watermark = max(r.updated for r in first.values())
    at_watermark = {i for i, r in first.items() if r.updated == watermark}
    fake.tick(90)
    fake.edit(site.printer.id, body="<p>Restart the spooler, then clear the queue.</p>")
    new = fake.add_page("IT", "Wi-Fi Guest Access", "<p>Use the guest SSID.</p>", site.home.id)
    fake.requests.clear()
    ids, changed = sync(make(fake, api), since=watermark)
    # restricted pages are sent again on every sync (a restriction change makes no version)
    restricted = {site.payroll.id, site.salaries.id}
    assert set(changed) == {site.printer.id, new.id} | at_watermark | restricted
    assert changed[site.printer.id].body_html == "<p>Restart the spooler, then clear the queue.</p>"
    assert changed[new.id].updated == stamp(new)
    assert new.id in ids
    if api == "cloud":  # bodies are fetched for the changed pages only
        bulk = [r for r in fake.requests if r.startswith("/wiki/api/v2/pages?")]
        asked = {i for r in bulk for i in httpx.URL(r).params["id"].split(",")}
        assert asked == {site.printer.id, new.id} | at_watermark | restricted
    else:  # CQL from a day earlier: the fake reads CQL dates 5 h behind UTC, like an account
        assert any(r.startswith("/rest/api/content/search?") for r in fake.requests)


def test_cloud_retired_trashed_moved_and_deleted(fake: FakeConfluence) -> None:
    site = Site(fake)
    _, first = sync(make(fake, "cloud"))
    watermark = max(r.updated for r in first.values())
    fake.retire(site.printer.id)
    fake.trash(site.payroll.id)
    fake.move(site.network.id, "HR")
    fake.delete(site.home.id)
    ids, changed = sync(make(fake, "cloud"), since=watermark)
    assert changed[site.printer.id].status == "retired"
    assert site.printer.id in ids
    assert not {site.payroll.id, site.network.id, site.home.id} & ids
    assert not {site.payroll.id, site.network.id, site.home.id} & set(changed)
    # the parent moved away: the child's path stops where the space's tree does
    assert first[site.vpn.id].category == "IT Home > Network"


def test_datacenter_archived_and_moved_pages_leave_the_listing(fake: FakeConfluence) -> None:
    site = Site(fake)
    fake.retire(site.printer.id)
    fake.move(site.network.id, "HR")
    ids, records = sync(make(fake, "datacenter"))
    assert site.printer.id not in ids and site.network.id not in ids
    assert site.printer.id not in records


@pytest.mark.parametrize("api", APIS)
def test_permission_change_is_reflected_in_groups(fake: FakeConfluence, api: str) -> None:
    site = Site(fake)
    fake.restrict(site.printer.id, groups=["it-staff"])
    fake.restrict(site.network.id, groups=["it-staff", "helpdesk"])
    fake.restrict(site.vpn.id, groups=["helpdesk", "contractors"])
    fake.restrict(site.payroll.id)
    _, records = sync(make(fake, api))
    assert records[site.printer.id].groups == ("it-staff",)
    assert records[site.network.id].groups == ("helpdesk", "it-staff")
    # its own restriction and its parent's both apply: only the groups in both
    assert records[site.vpn.id].groups == ("helpdesk",)
    assert records[site.payroll.id].groups == ()
    assert records[site.salaries.id].groups == (USERS_ONLY_GROUP,)


@pytest.mark.parametrize("api", APIS)
def test_restriction_change_without_edit_reaches_an_incremental_sync(
        fake: FakeConfluence, api: str) -> None:
    site = Site(fake)
    _, first = sync(make(fake, api))
    watermark = max(r.updated for r in first.values())
    assert first[site.vpn.id].groups == ()
    fake.restrict(site.network.id, groups=["it-staff"])  # no new version, as in Confluence
    _, changed = sync(make(fake, api), since=watermark)
    assert changed[site.network.id].groups == ("it-staff",)
    assert changed[site.vpn.id].groups == ("it-staff",)  # inherited from its parent
    assert changed[site.vpn.id].updated == first[site.vpn.id].updated
    assert site.printer.id not in changed


@pytest.mark.parametrize("api", APIS)
def test_rate_limit_waits_for_retry_after(fake: FakeConfluence, api: str) -> None:
    site = Site(fake)
    sleeps = Sleeps()
    fake.rate_limit_next(7)
    ids, _ = sync(make(fake, api, sleeps))
    assert ids == site.listed(api)
    assert sleeps == [7.0]


@pytest.mark.parametrize("api", APIS)
def test_a_500_then_success_is_retried(fake: FakeConfluence, api: str) -> None:
    site = Site(fake)
    sleeps = Sleeps()
    fake.fail_next(500)
    ids, records = sync(make(fake, api, sleeps))
    assert ids == set(records) == site.listed(api)
    assert sleeps == [0.5]


@pytest.mark.parametrize("api", APIS)
def test_permanent_failure_raises_without_secrets(fake: FakeConfluence, api: str) -> None:
    Site(fake)
    fake.fail_next(500, 10)
    with pytest.raises(SourceError) as raised:
        make(fake, api).list_ids(lambda _: None)
    message = str(raised.value)
    assert "failed after 3 tries: HTTP 500" in message
    assert TOKEN not in message and PAT not in message


@pytest.mark.parametrize("api", APIS)
def test_wrong_credentials_are_refused(fake: FakeConfluence, api: str) -> None:
    Site(fake)
    with pytest.raises(SourceError) as raised:
        make(fake, api, secret="wrong-secret-value").list_ids(lambda _: None)
    assert "HTTP 401" in str(raised.value)
    assert "wrong-secret-value" not in str(raised.value)


@pytest.mark.parametrize("api", APIS)
def test_failure_after_some_pages_lists_nothing(fake: FakeConfluence, api: str) -> None:
    Site(fake)
    fake.fail_after_pages(2)
    with pytest.raises(SourceError):
        make(fake, api).list_ids(lambda _: None)


@pytest.mark.parametrize("api", APIS)
def test_pagination_is_followed_to_the_end(fake: FakeConfluence, api: str) -> None:
    made = fake.generate(23)
    fake.restrict(made[-1].id, groups=["it-staff"])  # last in every listing's order
    ids, records = sync(make(fake, api, page_size=3))
    assert ids == set(records) == {p.id for p in made}
    assert records[made[-1].id].groups == ("it-staff",)
    listing = [r for r in fake.requests if "/spaces/1000/pages" in r or "spaceKey=IT" in r]
    assert len(listing) == 8 * (1 if api == "cloud" else 2)  # 23 pages, 3 a page, twice on DC
    article = next(r for r in records.values() if r.title == "How to fix issue 3")
    assert article.category == "IT Home > Section 3"
    assert '<a href="' in article.body_html and "How to fix issue 2</a>" in article.body_html


def test_cloud_url_may_name_the_wiki_path(fake: FakeConfluence) -> None:
    site = Site(fake)
    ids, records = sync(make(fake, "cloud", url=fake.base_url + "/wiki"))
    assert ids == set(records) == site.listed("cloud")
    assert all(r.startswith("/wiki/") for r in fake.requests)


@pytest.mark.parametrize("api", APIS)
def test_a_page_without_title_is_skipped_with_a_warning(
        fake: FakeConfluence, api: str, caplog: pytest.LogCaptureFixture) -> None:
    site = Site(fake)
    untitled = fake.add_page("IT", "", "<p>No title.</p>", site.home.id)
    ids, records = sync(make(fake, api))
    assert untitled.id in ids and untitled.id not in records
    assert set(records) == site.listed(api)
    assert f"page {untitled.id}" in caplog.text and "skipped" in caplog.text


def test_space_key_not_found_is_an_error(fake: FakeConfluence) -> None:
    fake.add_page("HR", "HR Home")
    with pytest.raises(SourceError, match="space IT not found"):
        make(fake, "cloud").list_ids(lambda _: None)


# --- storage format --------------------------------------------------------------------------

def test_storage_macros_links_and_tasks_render_as_html() -> None:
    storage = (
        '<ac:structured-macro ac:name="warning"><ac:parameter ac:name="title">Careful'
        "</ac:parameter><ac:rich-text-body><p>Back up first.</p></ac:rich-text-body>"
        '</ac:structured-macro><ac:structured-macro ac:name="expand"><ac:parameter '
        'ac:name="title">Details</ac:parameter><ac:rich-text-body><p>More &amp; more.</p>'
        '</ac:rich-text-body></ac:structured-macro><ac:structured-macro ac:name="toc" />'
        '<ac:structured-macro ac:name="noformat"><ac:plain-text-body><![CDATA[a < b]]>'
        "</ac:plain-text-body></ac:structured-macro>"
        "<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete"
        "</ac:task-status><ac:task-body>Reboot</ac:task-body></ac:task><ac:task>"
        "<ac:task-status>incomplete</ac:task-status><ac:task-body>Log in</ac:task-body>"
        '</ac:task></ac:task-list><p><ac:link><ri:page ri:space-key="HR" ri:content-title='
        '"Leave Policy" /><ac:plain-text-link-body><![CDATA[leave]]></ac:plain-text-link-body>'
        '</ac:link> <ac:link><ri:attachment ri:filename="form.pdf" /></ac:link> '
        '<ac:image ac:alt="The login screen"><ri:url ri:value="https://x/y.png" /></ac:image>'
        '<a href="javascript:alert(1)" onclick="x()">bad</a></p><script>alert(2)</script>')
    seen: list[tuple[str, str | None]] = []

    def page_url(title: str, space: str | None) -> str:
        seen.append((title, space))
        return "https://wiki.example.com/display/HR/Leave+Policy"

    assert render_storage(storage, page_url) == (
        '<div class="confluence-warning"><p><strong>Careful</strong></p><p>Back up first.</p>'
        '</div><div class="confluence-expand"><p><strong>Details</strong></p><p>More &amp; '
        "more.</p></div><pre><code>a &lt; b</code></pre><ul><li>[x] Reboot</li><li>[ ] Log in"
        '</li></ul><p><a href="https://wiki.example.com/display/HR/Leave+Policy">leave</a> '
        "form.pdf The login screen<a>bad</a></p>")
    assert seen == [("Leave Policy", "HR")]


def test_broken_storage_is_recovered_not_fatal() -> None:
    assert render_storage("<p>Unclosed <b>bold &unknown; text", lambda t, k: None) == (
        "<p>Unclosed <b>bold &amp;unknown; text</b></p>")
    # a stray end tag: XML recovery would drop the rest, the HTML fallback keeps it
    broken = ('<p>one</p></div><ac:structured-macro ac:name="toc" /><p>two <ac:link>'
              '<ri:page ri:content-title="VPN Setup" /></ac:link></p><ac:structured-macro '
              'ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter>'
              "<ac:plain-text-body><![CDATA[a < b]]></ac:plain-text-body></ac:structured-macro>")
    assert render_storage(broken, lambda t, k: f"https://wiki/{t}") == (
        '<p>one</p><p>two <a href="https://wiki/VPN Setup">VPN Setup</a></p>'
        '<pre><code class="language-bash">a &lt; b</code></pre>')


# --- HTML space export -----------------------------------------------------------------------

def zip_of(folder: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return target


def export_cfg(**extra: Any) -> Any:
    return parse_source("it", {"type": "confluence", "url": "https://acme.atlassian.net",
                               "spaces": ["IT"], **extra})


def test_export_pages_become_records(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    export = zip_of(EXPORT_DIR, tmp_path / "IT-export.zip")
    records = {r.id: r for r in read_export(export, export_cfg())}
    assert set(records) == {"65601", "65602", "65603"}
    assert "65604" in caplog.text and "skipped" in caplog.text
    vpn = records["65602"]
    assert (vpn.title, vpn.category, vpn.tags) == ("VPN Setup", "IT Home",
                                                   ("vpn", "remote-access"))
    assert (vpn.updated, vpn.last_reviewed) == ("2026-03-05T00:00:00Z", "2026-03-05")
    assert vpn.url == "https://acme.atlassian.net/wiki/pages/viewpage.action?pageId=65602"
    assert ('<pre><code class="language-powershell">Restart-Service vpnagent -Force\n'
            "Get-Service vpnagent | Select Status</code></pre>") in vpn.body_html
    assert "<p><span>vpn-client.png</span></p>" in vpn.body_html
    assert ('<a href="https://acme.atlassian.net/wiki/pages/viewpage.action?pageId=65603">'
            "Printer Fix</a> or the <a>PDF guide</a>") in vpn.body_html
    assert "<table><tbody>" in vpn.body_html and "<th>Setting</th>" in vpn.body_html
    assert "Close Outlook first." in vpn.body_html
    assert "alert" not in vpn.body_html and "Attachments:" not in vpn.body_html
    assert ("<pre><code>net stop spooler &amp;&amp; net start spooler</code></pre>"
            "Then print a test page.") in records["65603"].body_html
    assert records["65601"].category is None


def test_export_on_data_center_links_to_its_url(tmp_path: Path) -> None:
    export = zip_of(EXPORT_DIR, tmp_path / "IT.zip")
    cfg = export_cfg(url="https://wiki.example.com/confluence", api="datacenter")
    vpn = next(r for r in read_export(export, cfg) if r.id == "65602")
    assert vpn.url == "https://wiki.example.com/confluence/pages/viewpage.action?pageId=65602"


@pytest.mark.parametrize("name", ["../evil_1.html", "/etc/cron_2.html", "IT/../../x_3.html"])
def test_export_with_unsafe_member_paths_is_refused(tmp_path: Path, name: str) -> None:
    export = zip_of(EXPORT_DIR, tmp_path / "bad.zip", {name: b"<html></html>"})
    with pytest.raises(KbError, match="absolute or '..' path"):
        list(read_export(export, export_cfg()))


def test_export_zip_bomb_is_refused(tmp_path: Path) -> None:
    export = zip_of(EXPORT_DIR, tmp_path / "bomb.zip", {"IT/attachments/1/2.bin": bytes(5_000_000)})
    with pytest.raises(KbError, match="zip bomb") as raised:
        list(read_export(export, export_cfg()))
    assert str(export) in str(raised.value)


def test_export_that_is_not_a_zip_or_of_another_space(tmp_path: Path) -> None:
    not_zip = tmp_path / "notes.zip"
    not_zip.write_bytes(b"just text")
    with pytest.raises(KbError, match="not a Confluence HTML export"):
        list(read_export(not_zip, export_cfg()))
    export = zip_of(EXPORT_DIR, tmp_path / "IT.zip")
    with pytest.raises(KbError, match="holds space IT"):
        list(read_export(export, export_cfg(spaces=["HR"])))
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("IT/index.html", "<html></html>")
    with pytest.raises(KbError, match="no exported pages"):
        list(read_export(empty, export_cfg()))
