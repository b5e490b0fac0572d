"""``kb ask`` and ``kb gaps``."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date

from assistant.answer import answer_json
from assistant.gaps import list_gaps
from assistant.service import ask, assistant_from_settings
from assistant.types import Viewer
from ingest.metadata import parse_date
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings, make_embedder, make_llm, open_state


def as_of_arg(value: str | None) -> date:
    if not value:
        return date.today()
    try:
        parsed = parse_date(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    assert parsed is not None
    return parsed


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="answer a question from the KB, with citations")
    p.add_argument("question")
    add_data_dir(p)
    p.add_argument("--groups", default="", help="comma-separated groups of the asker")
    p.add_argument("--product", help="only articles about this product")
    p.add_argument("--category", help="only articles in this category")
    p.add_argument("--k", type=int, default=5, help="articles to retrieve")
    p.add_argument("--as-of", type=as_of_arg, default=None, help="today, for date rules")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_ask)
    g = sub.add_parser("gaps", help="questions the KB could not answer, grouped")
    add_data_dir(g)
    g.add_argument("--json", action="store_true")
    g.set_defaults(handler=run_gaps)


def run_ask(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    assistant = assistant_from_settings(settings, make_embedder(settings), make_llm(settings))
    groups = frozenset(g.strip() for g in args.groups.split(",") if g.strip())
    viewer = Viewer(groups, args.product, args.category)
    answer = ask(assistant, args.question, viewer, args.as_of or date.today(), args.k)
    if args.json:
        print(json.dumps(answer_json(answer), indent=2))
        return 0
    print(terminal_text(answer.answer, sys.stdout.isatty()))
    if answer.escalation:
        print(f"\nNext step: {answer.escalation}")
    if answer.note:
        print(f"\n{answer.note}")
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            flag = "  [STALE]" if c.stale else ""
            print(f"  [{c.n}] {c.title} - {c.section} ({c.article_id}; reviewed "
                  f"{c.last_reviewed or 'never'}){flag}")
            if c.warning:
                print(f"      ! {c.warning}")
    if answer.other_cases:
        print("\nOther causes: " + "; ".join(o["title"] for o in answer.other_cases))
    if answer.related:
        print("\nRelated:" if answer.answered else "\nRelated articles:")
        for r in answer.related:
            print(f"  - {r['title']} ({r['article_id']})")
    print(f"\nconfidence {answer.confidence:.2f}")
    return 0


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_MARKER = re.compile(r"^(```)\s*(\[\d+\])\s*$")


def terminal_text(answer: str, tty: bool) -> str:
    """The answer for a terminal: code blocks on their own lines, indented, without fences
    (their ``[n]`` on the line after), Markdown bold rendered on a TTY, stripped elsewhere."""
    out: list[str] = []
    in_code = False
    for line in answer.split("\n"):
        if line.lstrip().startswith("```"):
            if in_code:
                closing = _MARKER.match(line.strip())
                if closing:
                    out.append(f"    {closing.group(2)}")
            in_code = not in_code
            continue
        if in_code:
            out.append(f"    {line}")
        else:
            out.append(_BOLD.sub(r"\033[1m\1\033[0m" if tty else r"\1", line))
    return "\n".join(out)


def run_gaps(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    conn = open_state(settings)
    groups = list_gaps(conn)
    if args.json:
        print(json.dumps([g.__dict__ for g in groups], indent=2))
        return 0
    if not groups:
        print("no recorded gaps")
    for g in groups:
        print(f"{g.count:4}  {g.topic}")
        for ex in g.examples[1:3]:
            print(f"        e.g. {ex}")
    return 0
