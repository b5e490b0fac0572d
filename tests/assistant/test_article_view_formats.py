"""The article view of a real file of each format shows what the source shows: numbers that
carry on after a command (``<ol start="3">``), nested lists, code as ``<pre><code>`` with its
line breaks, tables as tables, and every backslash (``\\\\print01``, ``PRINTERS\\*``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.article_view import inline, render_sections, table_html
from core.types import Article, Block
from ingest.load import load_article
from tests.ingest.test_code_blocks import SPOOLER, write_inputs

SPOOLER_HTML = ("net stop spooler\ndel /Q /F %systemroot%\\System32\\spool\\PRINTERS\\*\n"
                "net start spooler")


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[str, str]]]:
    """``[(anchor, html)]`` per format."""
    paths = write_inputs(tmp_path_factory.mktemp("formats"))
    return {fmt: [(s.anchor, s.html) for s in
                  render_sections(load_article(path, path.parent, 10_000_000))]
            for fmt, path in paths.items()}


def test_markdown_view(views: dict[str, list[tuple[str, str]]]) -> None:
    assert views["md"] == [("resolution", (
        "<ol><li>Restart the laptop.</li><li>Stop the services from an administrator prompt:"
        "</li></ol>"
        '<pre class="code nested"><code class="language-powershell">net stop wuauserv\n'
        "net stop bits</code></pre>"
        '<ol start="3"><li>Check the queue on <code>\\\\print01</code> and clear '
        "<code>PRINTERS\\*</code>:<ul><li>Open Print Management.<ul><li>Select Printers.</li>"
        "</ul></li><li>Note the job's <code>Properties[1]</code> value.</li></ul></li>"
        "<li>Run the query:</li></ol>"
        '<pre class="code"><code class="language-powershell">Get-WinEvent -MaxEvents 5 |\n'
        "  Select-Object @{n='Caller';e={$_.Properties[1].Value}}</code></pre>"
        '<ol start="5"><li>Done.</li></ol>'
        "<table><thead><tr><th>Error</th><th>Meaning</th></tr></thead><tbody>"
        "<tr><td><code>0x80070005</code></td><td>Access | denied</td></tr>"
        "<tr><td>1603</td><td>Fatal</td></tr></tbody></table>"))]


def test_html_view(views: dict[str, list[tuple[str, str]]]) -> None:
    assert views["html"] == [("resolution", (
        "<ol><li>Forget the network.</li><li>Refresh policy:</li></ol>"
        '<pre class="code nested"><code class="language-cmd">gpupdate /force\n'
        "certutil -pulse</code></pre>"
        '<ol start="3"><li>Map <code>\\\\print01\\queue</code>:<ul><li>Check '
        "<code>PRINTERS\\*</code>.</li></ul></li></ol>"
        "<p>Then, if it still fails:</p>"
        '<ol start="4"><li>Run <code>netsh wlan show wlanreport</code>.</li></ol>'
        "<table><thead><tr><th>SSID</th><th>Use</th></tr></thead><tbody>"
        "<tr><td>NW-Corp</td><td>managed</td></tr></tbody></table>"))]


def test_plain_text_view(views: dict[str, list[tuple[str, str]]]) -> None:
    assert views["txt"] == [
        ("environment", "<p>Laptops printing to printers shared from \\\\print01.</p>"),
        ("resolution", (
            "<ol><li>Cancel all documents.</li><li>Restart the Print Spooler service. Open "
            "Command Prompt as administrator and run:</li></ol>"
            f'<pre class="code nested"><code>{SPOOLER_HTML}</code></pre>'
            '<ol start="3"><li>Add the printer again from \\\\print01.</li>'
            "<li>Check the timeout. In PowerShell run:</li></ol>"
            '<pre class="code nested"><code>Get-VpnConnection -Name "Northwind VPN" | '
            "Select IdleDisconnectSeconds</code></pre>"
            "<p>The value should be 0.</p>"
            '<ol start="5"><li>Escalate to PRN-L2.</li></ol>'))]


def test_docx_view(views: dict[str, list[tuple[str, str]]]) -> None:
    assert views["docx"] == [("resolution", (
        "<ol><li>Cancel all documents.</li><li>Restart the spooler from an administrator "
        "prompt:</li></ol>"
        f'<pre class="code nested"><code>{SPOOLER_HTML}</code></pre>'
        '<ol start="3"><li>Add the printer from <code>\\\\print01</code> again.<ul><li>Check the '
        "driver name.</li></ul></li></ol>"
        "<table><thead><tr><th>Event</th><th>Meaning</th></tr></thead><tbody>"
        "<tr><td>372</td><td>Driver | crash</td></tr></tbody></table>"))]


def test_pdf_view(views: dict[str, list[tuple[str, str]]]) -> None:
    assert views["pdf"] == [("resolution", (
        "<ol><li>Cancel all documents.</li><li>Restart the spooler as administrator:</li></ol>"
        f'<pre class="code nested"><code>{SPOOLER_HTML}</code></pre>'
        '<ol start="3"><li>Add the printer again from \\\\print01.</li></ol>'))]


def test_committed_sample_shows_backslashes_and_numbers() -> None:
    samples = Path(__file__).resolve().parents[2] / "kb_samples"
    article = load_article(samples / "printing/print-queue-stuck.txt", samples, 10_000_000)
    html = {s.anchor: s.html for s in render_sections(article)}
    assert html["environment"] == ("<p>Windows 11 laptops printing to printers shared from "
                                   "\\\\print01, or to the FollowMe badge-release queue.</p>")
    assert f'<pre class="code nested"><code>{SPOOLER}</code></pre><ol start="3">' \
        in html["resolution"]


# ---------------------------------------------------------------------------- pieces


@pytest.mark.parametrize(("text", "html"), [
    ("Shared from \\\\print01", "Shared from \\\\print01"),
    ("Clear PRINTERS\\* and *.tmp_files_*", "Clear PRINTERS\\* and *.tmp_files_*"),
    ("Run `Get-Item $_.Properties[1]` now [1]", "Run <code>Get-Item $_.Properties[1]</code> "
                                                "now [1]"),
    ("Use ``a ` b`` here", "Use <code>a ` b</code> here"),
    ("A lone ` backtick & <b>", "A lone ` backtick &amp; &lt;b&gt;"),
    ("&amp; stays &amp;", "&amp;amp; stays &amp;amp;"),
    ("line one\nline two", "line one<br>line two"),
])
def test_inline_shows_every_character(text: str, html: str) -> None:
    assert inline(text) == html


def test_a_table_text_that_is_not_a_pipe_table_stays_preformatted() -> None:
    assert table_html("Drive Share Z: shared") == (
        '<pre class="table-text"><code>Drive Share Z: shared</code></pre>')


def test_steps_without_source_numbers_count_and_skipped_numbers_are_kept() -> None:
    section = ("Steps",)
    blocks = (Block("heading", "Steps", section, 2),
              Block("list_item", "One.", section, 0, True),
              Block("list_item", "Two.", section, 0, True),
              Block("list_item", "Seven.", section, 0, True, number=7),
              Block("list_item", "A bullet.", section, 1),
              Block("list_item", "Eight.", section, 0, True))
    [view] = render_sections(Article("a.md", "a.md", "T", blocks, "h"))
    assert view.html == ('<ol><li>One.</li><li>Two.</li><li value="7">Seven.<ul><li>A bullet.'
                         "</li></ul></li><li>Eight.</li></ol>")
