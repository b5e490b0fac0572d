"""``kb serve``: the web app (chat, review, gaps, dashboard, JSON API) under uvicorn."""

from __future__ import annotations

import argparse

from core.errors import KbError
from core.paths import live_index
from kb_cli.commands import add_data_dir
from kb_cli.context import load_settings, make_embedder, make_llm, open_state


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the web app (pages and JSON API; docs at /docs)")
    add_data_dir(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from assistant.web.app import create_app, uvicorn_config

    settings = load_settings(args)
    if not live_index(settings.data_dir, create=False).catalog.exists():
        raise KbError(f"no index in {settings.data_dir}: run 'kb ingest PATH --data-dir "
                      f"{settings.data_dir}' first")
    if settings.database_url:  # a schema this kb was not written for: one line, no traceback
        open_state(settings).close()
    app = create_app(settings, make_embedder(settings), make_llm(settings))
    print(f"kb: serving {settings.data_dir} on http://{args.host}:{args.port}/ (API docs at /docs)")
    uvicorn.Server(uvicorn_config(app, args.host, args.port)).run()
    return 0
