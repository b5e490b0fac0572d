"""``kb calibrate``: fit this KB's confidence and abstention threshold without labels."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import date

from kb_cli.ask_cmd import as_of_arg
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings, make_embedder


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="fit the confidence and threshold to this KB from "
                                         "questions it asks of itself (no labels)")
    add_data_dir(p)
    p.add_argument("--questions", type=int, default=300, help="pseudo-questions (articles)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--as-of", type=as_of_arg, default=None, help="today, for date rules")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(handler=run_calibrate)


def run_calibrate(args: argparse.Namespace) -> int:
    from assistant.calibration import load_calibration
    from assistant.self_calibration import calibrate
    from assistant.service import assistant_from_settings
    from core.paths import live_index
    from ingest.run import terminal_progress

    settings = load_settings(args)
    paths = live_index(settings.data_dir, create=False)
    prior = load_calibration(settings.calibration_file)  # never the index's own: it is refitted
    assistant = assistant_from_settings(settings, make_embedder(settings), paths=paths,
                                        calibration=prior)
    command = "kb " + " ".join(shlex.quote(a) for a in getattr(args, "argv", sys.argv[1:]))
    result = calibrate(assistant, args.as_of or date.today(), prior, paths.calibration,
                       args.questions, args.seed, command,
                       None if args.json else terminal_progress("calibrate", "questions"))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    e = result["expected"]
    print(f"calibrated on {e['answerable']} pseudo-questions ({result['fitted_on']})\n"
          f"threshold {result['threshold']}: answers {e['answer_rate']:.0%} of them, abstains "
          f"on {e['abstention_rate']:.0%} with their article held out (AUROC {e['auroc']}); "
          f"their own article ranked first for {e['found_first']:.0%}\n"
          f"written to {paths.calibration}: kb ask, eval and serve use it for this index "
          "(KB_CALIBRATION_FILE overrides)")
    return 0
