"""The FastAPI app: routers per area, heavy things opened once in the lifespan.

    app = create_app(settings, embedder)          # what `kb serve` runs under uvicorn
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from assistant.web import articles, auth, chat, insights, pages, review, route, sources
from assistant.web.pages import STATIC
from assistant.web.runtime import open_web_kb
from assistant.web.security import SecurityHeaders, identify, trusted_networks
from core.errors import KbError
from core.settings import Settings
from ingest.embed import Embedder

log = logging.getLogger(__name__)
#: Swagger UI's page starts itself with an inline script: allowed there and nowhere else
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")


def readable(exc: RequestValidationError) -> str:
    """One line per problem: ``body.question: String should have at most 1000 characters``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    return JSONResponse({"detail": readable(exc), "errors": errors}, status_code=422)


async def kb_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


def uvicorn_config(app: FastAPI | str, host: str, port: int, workers: int = 1
                   ) -> uvicorn.Config:
    """How ``kb serve`` (and the tests' servers) run the app: an app, or the import string of
    a factory that builds one (what each of ``workers`` processes calls). ``proxy_headers=
    False``: the app alone decides whose X-Forwarded-For to believe (``KB_TRUSTED_PROXIES``);
    uvicorn's default would take it from any client on 127.0.0.1, so rotating it would dodge
    sign-in limits."""
    return uvicorn.Config(app, host=host, port=port, proxy_headers=False, log_level="warning",
                          access_log=False, workers=workers, factory=isinstance(app, str))


def create_app(settings: Settings, embedder: Embedder, llm: Any = None) -> FastAPI:
    trusted_networks(tuple(settings.trusted_proxies))  # a bad entry fails here, not at sign-in

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kb = open_web_kb(settings, embedder, llm)
        kb.live.current().embedder.embed(["warm up"])  # load the model before the first user
        app.state.kb = kb
        log.info("kb web app ready on index %s", kb.live.live_name)
        yield

    app = FastAPI(title="kb", summary="Offline knowledge-base assistant for IT service desks",
                  version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(KbError, kb_error)
    for module in (auth, chat, route, articles, review, insights, sources, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI from local files (swagger-ui-bundle-v2), no CDN."""
        page = get_swagger_ui_html(openapi_url="/openapi.json", title="kb API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/healthz", tags=["health"], response_model=None,
             responses={503: {"description": "the catalog or the state DB cannot be read"}})
    def healthz(request: Request) -> dict[str, Any] | JSONResponse:
        """``ok`` after a read of the catalog and the state DB, else 503 naming the store that
        failed. The index's article and chunk counts and the error itself go only to callers
        who may see metrics (lead, admin): anyone else could learn how many restricted
        articles exist. ``process`` (the serving process's id) tells ``--workers`` apart."""
        kb = app.state.kb
        caller = identify(request, kb)
        insider = caller is not None and caller.user.can("metrics")
        broken = kb.broken_stores()
        if broken:
            body: dict[str, Any] = {"status": "failing", "failed": sorted(broken)}
            if insider:
                body["detail"] = "cannot read " + "; ".join(
                    f"{store}: {error}" for store, error in broken.items())
            return JSONResponse(body, status_code=503)
        if not insider:
            return {"status": "ok"}
        index = kb.live.current().index
        return {"status": "ok", "index": kb.live.live_name, "articles": len(index.articles),
                "chunks": len(index.chunk_ids), "process": os.getpid()}

    return app
