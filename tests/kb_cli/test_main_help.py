"""``kb --help`` is written for users; a command imports only its own module, and a query
only what it uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kb_cli.main import COMMAND_MODULES, command_of, main
from tests.assistant.helpers import build_hashing_kb


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_help_lists_the_commands_in_the_order_a_user_meets_them(
        capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys)
    assert text.startswith("usage: kb [-h] [-v] COMMAND ...\n\nkb answers IT service-desk "
                           "questions")
    listed = [line.split()[0] for line in text.split("commands:")[1].split("a first session")[0]
              .splitlines() if line.startswith("    ") and not line.startswith("     ")]
    assert listed == ["ingest", "status", "sync", "import", "sources", "ask", "gaps", "serve",
                      "flags", "review", "eval", "promote", "rollback", "calibrate", "users",
                      "backup", "restore", "db", "tickets", "coverage", "route",
                      "eval-routing"] == list(COMMAND_MODULES)
    assert "README.md" in text.split("a first session:")[1]


def test_help_has_no_developer_wording(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys)
    for word in ("``", "module", "parses arguments", "subcommand", "handler", "{ingest"):
        assert word not in text, word


def test_each_command_has_a_help_line(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys)
    for command in COMMAND_MODULES:
        line = next(line for line in text.splitlines() if line.split()[:1] == [command])
        assert len(line.split()) > 2, line


@pytest.mark.parametrize(("argv", "command"), [
    (["ask", "q", "--k", "3"], "ask"), (["-v", "users", "list"], "users"), (["--help"], None),
    ([], None)])
def test_command_of(argv: list[str], command: str | None) -> None:
    assert command_of(argv) == command


def test_a_command_imports_only_its_module() -> None:
    """``kb ask`` must not pay for the web app, Chroma, the loaders or the other commands."""
    code = ("import sys; from kb_cli.main import build_parser; build_parser('ask'); "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {"
            "'chromadb', 'fastapi', 'uvicorn', 'langchain_text_splitters', 'unstructured', "
            "'argon2'} or m.endswith('_cmd'))))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True).stdout.split()
    assert loaded == ["kb_cli.ask_cmd"]


def test_a_query_does_not_open_chroma(tmp_path: Path) -> None:
    """The index is read from vectors.npz; Chroma opens only when something uses it."""
    data_dir = build_hashing_kb(tmp_path)
    code = f"""
import sys
from pathlib import Path
from assistant.service import open_index
from core.paths import live_index
index = open_index(live_index(Path({str(data_dir)!r}), create=False))
print("chromadb" in sys.modules, len(index.chunk_ids))
count = index.collection.count()
print("chromadb" in sys.modules, count)
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    assert out[0::2] == ["False", "True"] and out[1] == out[3] != "0"
