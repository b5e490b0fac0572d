"""Code stays code, lists keep their numbers and nesting, tables stay tables: for each format
(Markdown, HTML, plain text, DOCX, PDF) from a small real file, in the blocks and in the chunk
text the answer stage quotes (code fenced with its language, ``3.`` for step 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.types import Article, Block
from ingest.chunk import chunk_article, fence
from ingest.load import load_article
from ingest.read_text import is_command
from ingest.tokens import count_tokens

MD = r"""---
title: Reset Windows Update
---

# Reset Windows Update

## Resolution

1. Restart the laptop.
2. Stop the services from an administrator prompt:

   ```powershell
   net stop wuauserv
   net stop bits
   ```

3. Check the queue on `\\print01` and clear `PRINTERS\*`:
   - Open **Print Management**.
     - Select *Printers*.
   - Note the job's `Properties[1]` value.
4. Run the query:

```powershell
Get-WinEvent -MaxEvents 5 |
  Select-Object @{n='Caller';e={$_.Properties[1].Value}}
```

5. Done.

| Error | Meaning |
|---|---|
| `0x80070005` | Access \| denied |
| 1603 | Fatal |
"""

HTML = r"""<html><head><title>Corporate Wi-Fi</title></head><body>
<h1>Corporate Wi-Fi</h1>
<h2>Resolution</h2>
<ol>
<li>Forget the network.</li>
<li>Refresh policy:
<pre><code class="language-cmd">gpupdate /force
certutil -pulse</code></pre>
</li>
<li>Map <code>\\print01\queue</code>:
  <ul><li>Check <code>PRINTERS\*</code>.</li></ul>
</li>
</ol>
<p>Then, if it still fails:</p>
<ol start="4"><li>Run <code>netsh wlan show wlanreport</code>.</li></ol>
<table><tr><th>SSID</th><th>Use</th></tr><tr><td>NW-Corp</td><td>managed</td></tr></table>
</body></html>
"""

TXT = r"""Print jobs stuck in the queue

Environment
Laptops printing to printers shared from \\print01.

Resolution
1. Cancel all documents.
2. Restart the Print Spooler service. Open Command Prompt as administrator and run:
   net stop spooler
   del /Q /F %systemroot%\System32\spool\PRINTERS\*
   net start spooler
3. Add the printer again from \\print01.
4. Check the timeout. In PowerShell run:
   Get-VpnConnection -Name "Northwind VPN" | Select IdleDisconnectSeconds
   The value should be 0.
5. Escalate to PRN-L2.
"""

SPOOLER = ("net stop spooler\ndel /Q /F %systemroot%\\System32\\spool\\PRINTERS\\*\n"
           "net start spooler")


def write_docx(path: Path) -> Path:
    """Word: List Number steps with a Consolas paragraph between 2 and 3, a Courier New run,
    a List Bullet 2 item and a table."""
    import docx

    doc = docx.Document()
    doc.add_heading("Reset the spooler", level=1)
    doc.add_heading("Resolution", level=2)
    doc.add_paragraph("Cancel all documents.", style="List Number")
    doc.add_paragraph("Restart the spooler from an administrator prompt:", style="List Number")
    doc.add_paragraph().add_run(SPOOLER).font.name = "Consolas"
    para = doc.add_paragraph("Add the printer from ", style="List Number")
    para.add_run("\\\\print01").font.name = "Courier New"
    para.add_run(" again.")
    doc.add_paragraph("Check the driver name.", style="List Bullet 2")
    table = doc.add_table(rows=2, cols=2)
    for (row, col), text in {(0, 0): "Event", (0, 1): "Meaning", (1, 0): "372",
                             (1, 1): "Driver | crash"}.items():
        table.cell(row, col).text = text
    doc.save(str(path))
    return path


def write_pdf(path: Path) -> Path:
    """A PDF whose commands are printed in Courier, the rest in Helvetica."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_margins(20, 20, 20)
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 9, "Reset the spooler", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 8, "Resolution", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    for line in ("1. Cancel all documents.", "2. Restart the spooler as administrator:"):
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "", 9)
    pdf.multi_cell(0, 5, SPOOLER, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "3. Add the printer again from \\\\print01.", new_x="LMARGIN",
                   new_y="NEXT")
    pdf.output(str(path))
    return path


def write_inputs(root: Path) -> dict[str, Path]:
    """One small article per format in ``root``, by format."""
    (root / "update.md").write_text(MD, encoding="utf-8")
    (root / "wifi.html").write_text(HTML, encoding="utf-8")
    (root / "print.txt").write_text(TXT, encoding="utf-8")
    return {"md": root / "update.md", "html": root / "wifi.html", "txt": root / "print.txt",
            "docx": write_docx(root / "spooler.docx"), "pdf": write_pdf(root / "spooler.pdf")}


def load(path: Path) -> Article:
    return load_article(path, path.parent, 10_000_000)


def body(article: Article) -> list[tuple[str, str, int, int, str]]:
    return [(b.kind, b.text, b.level, b.number, b.lang) for b in article.blocks
            if b.kind != "heading"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_inputs(tmp_path_factory.mktemp("formats"))


# ---------------------------------------------------------------------------- blocks


def test_markdown_blocks(inputs: dict[str, Path]) -> None:
    assert body(load(inputs["md"])) == [
        ("list_item", "Restart the laptop.", 0, 1, ""),
        ("list_item", "Stop the services from an administrator prompt:", 0, 2, ""),
        ("code", "net stop wuauserv\nnet stop bits", 1, 0, "powershell"),
        ("list_item", "Check the queue on `\\\\print01` and clear `PRINTERS\\*`:", 0, 3, ""),
        ("list_item", "Open Print Management.", 1, 0, ""),
        ("list_item", "Select Printers.", 2, 0, ""),
        ("list_item", "Note the job's `Properties[1]` value.", 1, 0, ""),
        ("list_item", "Run the query:", 0, 4, ""),
        ("code", "Get-WinEvent -MaxEvents 5 |\n"
                 "  Select-Object @{n='Caller';e={$_.Properties[1].Value}}", 0, 0, "powershell"),
        ("list_item", "Done.", 0, 5, ""),  # a new list after the code, numbered as written
        ("table", "| Error | Meaning |\n| --- | --- |\n| `0x80070005` | Access \\| denied |\n"
                  "| 1603 | Fatal |", 0, 0, ""),
    ]


def test_html_blocks(inputs: dict[str, Path]) -> None:
    assert body(load(inputs["html"])) == [
        ("list_item", "Forget the network.", 0, 1, ""),
        ("list_item", "Refresh policy:", 0, 2, ""),
        ("code", "gpupdate /force\ncertutil -pulse", 1, 0, "cmd"),
        ("list_item", "Map `\\\\print01\\queue`:", 0, 3, ""),
        ("list_item", "Check `PRINTERS\\*`.", 1, 0, ""),
        ("text", "Then, if it still fails:", 0, 0, ""),
        ("list_item", "Run `netsh wlan show wlanreport`.", 0, 4, ""),  # <ol start="4">
        ("table", "| SSID | Use |\n| --- | --- |\n| NW-Corp | managed |", 0, 0, ""),
    ]


def test_plain_text_blocks(inputs: dict[str, Path]) -> None:
    assert body(load(inputs["txt"])) == [
        ("text", "Laptops printing to printers shared from \\\\print01.", 0, 0, ""),
        ("list_item", "Cancel all documents.", 0, 1, ""),
        ("list_item", "Restart the Print Spooler service. Open Command Prompt as administrator "
                      "and run:", 0, 2, ""),
        ("code", SPOOLER, 1, 0, ""),
        ("list_item", "Add the printer again from \\\\print01.", 0, 3, ""),
        ("list_item", "Check the timeout. In PowerShell run:", 0, 4, ""),
        ("code", 'Get-VpnConnection -Name "Northwind VPN" | Select IdleDisconnectSeconds', 1, 0,
         ""),
        ("text", "The value should be 0.", 0, 0, ""),  # prose after the command is not code
        ("list_item", "Escalate to PRN-L2.", 0, 5, ""),
    ]


def test_docx_blocks(inputs: dict[str, Path]) -> None:
    assert body(load(inputs["docx"])) == [
        ("list_item", "Cancel all documents.", 0, 1, ""),
        ("list_item", "Restart the spooler from an administrator prompt:", 0, 2, ""),
        ("code", SPOOLER, 1, 0, ""),
        ("list_item", "Add the printer from `\\\\print01` again.", 0, 3, ""),
        ("list_item", "Check the driver name.", 1, 0, ""),
        ("table", "| Event | Meaning |\n| --- | --- |\n| 372 | Driver \\| crash |", 0, 0, ""),
    ]


def test_pdf_blocks(inputs: dict[str, Path]) -> None:
    assert body(load(inputs["pdf"])) == [
        ("list_item", "Cancel all documents.", 0, 1, ""),
        ("list_item", "Restart the spooler as administrator:", 0, 2, ""),
        ("code", SPOOLER, 1, 0, ""),  # the Courier lines
        ("list_item", "Add the printer again from \\\\print01.", 0, 3, ""),
    ]


# ---------------------------------------------------------------------------- chunk text


def test_markdown_chunk_text(inputs: dict[str, Path]) -> None:
    [chunk] = chunk_article(load(inputs["md"]))
    assert chunk.text == (
        "1. Restart the laptop.\n"
        "2. Stop the services from an administrator prompt:\n"
        "```powershell\nnet stop wuauserv\nnet stop bits\n```\n"
        "3. Check the queue on `\\\\print01` and clear `PRINTERS\\*`:\n"
        "  - Open Print Management.\n"
        "    - Select Printers.\n"
        "  - Note the job's `Properties[1]` value.\n"
        "4. Run the query:\n"
        "```powershell\nGet-WinEvent -MaxEvents 5 |\n"
        "  Select-Object @{n='Caller';e={$_.Properties[1].Value}}\n```\n"
        "5. Done.\n"
        "| Error | Meaning |\n| --- | --- |\n| `0x80070005` | Access \\| denied |\n"
        "| 1603 | Fatal |")


def test_html_chunk_text(inputs: dict[str, Path]) -> None:
    [chunk] = chunk_article(load(inputs["html"]))
    assert chunk.text == (
        "1. Forget the network.\n2. Refresh policy:\n"
        "```cmd\ngpupdate /force\ncertutil -pulse\n```\n"
        "3. Map `\\\\print01\\queue`:\n  - Check `PRINTERS\\*`.\n"
        "Then, if it still fails:\n4. Run `netsh wlan show wlanreport`.\n"
        "| SSID | Use |\n| --- | --- |\n| NW-Corp | managed |")


def test_plain_text_chunk_text(inputs: dict[str, Path]) -> None:
    chunks = chunk_article(load(inputs["txt"]))
    assert [c.text for c in chunks] == [
        "Laptops printing to printers shared from \\\\print01.",
        "1. Cancel all documents.\n"
        "2. Restart the Print Spooler service. Open Command Prompt as administrator and run:\n"
        f"```\n{SPOOLER}\n```\n"
        "3. Add the printer again from \\\\print01.\n"
        "4. Check the timeout. In PowerShell run:\n"
        '```\nGet-VpnConnection -Name "Northwind VPN" | Select IdleDisconnectSeconds\n```\n'
        "The value should be 0.\n"
        "5. Escalate to PRN-L2."]


def test_docx_and_pdf_chunk_text(inputs: dict[str, Path]) -> None:
    [docx_chunk] = chunk_article(load(inputs["docx"]))
    [pdf_chunk] = chunk_article(load(inputs["pdf"]))
    assert docx_chunk.text == (
        "1. Cancel all documents.\n2. Restart the spooler from an administrator prompt:\n"
        f"```\n{SPOOLER}\n```\n"
        "3. Add the printer from `\\\\print01` again.\n  - Check the driver name.\n"
        "| Event | Meaning |\n| --- | --- |\n| 372 | Driver \\| crash |")
    assert pdf_chunk.text == (
        "1. Cancel all documents.\n2. Restart the spooler as administrator:\n"
        f"```\n{SPOOLER}\n```\n3. Add the printer again from \\\\print01.")


def test_committed_samples_keep_their_command_blocks() -> None:
    samples = Path(__file__).resolve().parents[2] / "kb_samples"
    texts = {rel: "\n".join(c.text for c in chunk_article(load(samples / rel)))
             for rel in ("endpoint/windows-update-errors.md",
                         "network/wifi-corporate-ssid-certificate.html",
                         "printing/print-queue-stuck.txt", "accounts/account-locked-out.md")}
    assert ("```cmd\nnet stop wuauserv\nnet stop bits\nnet stop cryptsvc\n"
            "ren %systemroot%\\SoftwareDistribution SoftwareDistribution.old\n"
            "ren %systemroot%\\System32\\catroot2 catroot2.old\n"
            "net start cryptsvc\nnet start bits\nnet start wuauserv\n```\n5. For 0x80073712"
            ) in texts["endpoint/windows-update-errors.md"]
    assert "refresh policy and certificates:\n```\ngpupdate /force\ncertutil -pulse\n```\n3. " \
        in texts["network/wifi-corporate-ssid-certificate.html"]
    assert f"and run:\n```\n{SPOOLER}\n```\n3. Print a test page." \
        in texts["printing/print-queue-stuck.txt"]
    assert "$_.Properties[1].Value" in texts["accounts/account-locked-out.md"]


# ---------------------------------------------------------------------------- splitting


def test_a_code_block_over_the_budget_is_split_on_lines_and_each_part_fenced() -> None:
    lines = [f"Set-ItemProperty -Path HKLM:\\Software\\Contoso\\Key{n} -Name Value{n} -Value {n}"
             for n in range(40)]
    article = Article("a.md", "a.md", "T", (Block("text", "Run:", ("Fix",)),
                                            Block("code", "\n".join(lines), ("Fix",),
                                                  lang="powershell"),
                                            Block("text", "Done.", ("Fix",))), "h")

    chunks = chunk_article(article, max_tokens=120)

    assert chunks[0].text == "Run:" and chunks[-1].text == "Done."
    parts = [c.text for c in chunks[1:-1]]
    assert len(parts) > 1
    assert all(p.startswith("```powershell\n") and p.endswith("\n```") for p in parts)
    assert [line for p in parts for line in p.split("\n")[1:-1]] == lines  # whole lines, in order
    assert all(count_tokens(c.embed_text) <= 120 for c in chunks)


def test_a_code_block_that_fits_is_never_split() -> None:
    code = "\n".join(f"net stop service{n}" for n in range(12))
    blocks = (*(Block("text", f"Paragraph {n} " + "words " * 20, ("Fix",)) for n in range(3)),
              Block("code", code, ("Fix",), lang="cmd"))
    chunks = chunk_article(Article("a.md", "a.md", "T", blocks, "h"), max_tokens=100)
    assert sum(fence(code, "cmd") in c.text for c in chunks) == 1


def test_a_fence_inside_code_gets_a_longer_fence() -> None:
    assert fence("```\nx\n```", "md") == "````md\n```\nx\n```\n````"


# ---------------------------------------------------------------------------- plain text limits


@pytest.mark.parametrize(("line", "expected"), [
    ("net stop spooler", True),
    ("del /Q /F %systemroot%\\System32\\spool\\PRINTERS\\*", True),
    ('Get-VpnConnection -Name "Northwind VPN" | Select IdleDisconnectSeconds', True),
    ("DISM /Online /Cleanup-Image /RestoreHealth", True),
    ("\\\\print01\\FollowMe", True),
    ("The value should be 0.", False),
    ("Windows 11 laptops", False),
    ("IT staff only", False),
    ("1. Open Settings", False),
])
def test_is_command(line: str, expected: bool) -> None:
    assert is_command(line) is expected


def test_indented_prose_under_a_colon_stays_text(tmp_path: Path) -> None:
    (tmp_path / "env.txt").write_text(
        "Environment notes\n\nApplies to:\n   Windows 11 laptops\n   Office for the web\n\n"
        "Run net stop spooler from an administrator prompt.\n", encoding="utf-8")
    article = load(tmp_path / "env.txt")
    assert "code" not in {b.kind for b in article.blocks}
    assert not any("```" in c.text for c in chunk_article(article))
