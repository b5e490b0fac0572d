"""``kb serve``: the web app (chat, review, gaps, dashboard, JSON API) under uvicorn.

With ``--workers N`` (N > 1) uvicorn starts N processes on one socket, each building the app
through :func:`app_from_env`, which reads the settings from the environment as any ``kb``
command does: the parent puts its ``--data-dir`` there as ``KB_DATA_DIR`` first. Before the
workers start, the parent checks the index, opens the state DB once (a ``state.sqlite`` is
created or upgraded by one process only; a Postgres schema that is not this kb's is refused)
and makes sure the cookie key exists, so every worker signs cookies with the same key.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from core.errors import KbError
from core.paths import live_index
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings, make_embedder, make_llm, open_state

#: what uvicorn's worker processes import and call (``factory=True``)
APP_FACTORY = "kb_cli.serve_cmd:app_from_env"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the web app (pages and JSON API; docs at /docs)")
    add_data_dir(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes on the port (each loads the model and the index; "
                        "they share the state DB, sessions and sign-in limits)")
    p.set_defaults(handler=run_serve)


def app_from_env() -> Any:
    """The app as one worker builds it: settings from ``KB_*`` (and ``kb.toml``)."""
    from assistant.web.app import create_app
    from core.settings import Settings

    settings = Settings()
    return create_app(settings, make_embedder(settings), make_llm(settings))


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from assistant.users import load_secret
    from assistant.web.app import create_app, uvicorn_config

    if args.workers < 1:
        raise KbError(f"--workers {args.workers}: at least 1")
    settings = load_settings(args)
    if not live_index(settings.data_dir, create=False).catalog.exists():
        raise KbError(f"no index in {settings.data_dir}: run 'kb ingest PATH --data-dir "
                      f"{settings.data_dir}' first")
    open_state(settings).close()  # a schema that is not this kb's: one line, no traceback
    load_secret(settings.data_dir, settings.secret_key)
    where = f"http://{args.host}:{args.port}/"
    if args.workers == 1:
        app = create_app(settings, make_embedder(settings), make_llm(settings))
        print(f"kb: serving {settings.data_dir} on {where} (API docs at /docs)")
        uvicorn.Server(uvicorn_config(app, args.host, args.port)).run()
        return 0
    os.environ["KB_DATA_DIR"] = str(settings.data_dir.resolve())  # the workers' settings
    print(f"kb: serving {settings.data_dir} on {where} with {args.workers} workers "
          "(API docs at /docs)", flush=True)
    config = uvicorn_config(APP_FACTORY, args.host, args.port, workers=args.workers)
    Multiprocess(config, sockets=[config.bind_socket()]).run()
    return 0
