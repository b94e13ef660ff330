"""The HTTP service: JSON search API, the search page (``/``) and an embeddable widget (``/widget.js``).

Routes (see docs/api.md): ``GET /search``, ``GET /documents/{id}``, ``GET /documents/{id}/similar``,
``GET /categories``, ``GET /stats``, ``GET /health``, and — only when ``settings.api_key`` is set —
``POST /documents`` and ``DELETE /documents/{id}`` (header ``X-API-Key``). Portal features
(api/portal.py): ``GET /feed.atom``, ``/feed.rss``, ``/opensearch.xml``, ``/metrics`` (when on),
``/admin/analytics`` (X-API-Key), a per-client rate limit, following a switched index symlink.

Robustness rules: every error is JSON ``{"detail": "<reason>"}``; bad input is a 4xx (400 for
undecodable requests, 413 for oversized bodies, 422 for values that fail validation); searches run
in the threadpool under ``settings.request_timeout_s`` (504 on overrun); an unexpected exception is
logged and answered with a bare 500, never a stack trace.
"""

import logging
import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from thaigov_search.api.errors import install_error_handlers
from thaigov_search.api.guard import GuardMiddleware
from thaigov_search.api.portal import PortalFeatures
from thaigov_search.api.routes import add_page_routes, add_read_routes
from thaigov_search.api.schemas import ErrorOut
from thaigov_search.api.state import ServiceState
from thaigov_search.api.writes import add_write_routes
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher

logger = logging.getLogger(__name__)


def create_app(index_dir: Path, settings: Settings, searcher: Searcher | None = None,
               load_in_background: bool = True) -> FastAPI:
    """The service over one index; with ``searcher=None`` the index loads in a background thread
    (``/health`` says "loading" meanwhile), or, with ``load_in_background=False``, before the app
    accepts its first connection (a worker of several: the others take the traffic meanwhile)."""
    state = ServiceState(index_dir, settings)
    portal = PortalFeatures(state)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if state.searcher is None:
            if load_in_background:
                threading.Thread(target=state.load, name="index-loader", daemon=True).start()
            else:
                await run_in_threadpool(state.load)
        portal.start()
        yield
        portal.stop()
        await run_in_threadpool(state.close)

    # FastAPIOffline serves the Swagger UI / ReDoc assets from the installed package, not a CDN.
    app = FastAPIOffline(
        title="thaigov-search",
        version="0.1.0",
        description="Hybrid (dense + BM25) search over Thai government news releases, fully offline.",
        lifespan=lifespan,
        responses={500: {"model": ErrorOut, "description": "Unexpected server error (logged)."}},
    )
    app.state.service = state
    install_error_handlers(app)
    app.add_middleware(GuardMiddleware, max_body_bytes=settings.max_body_bytes)
    portal.add_rate_limit(app)  # inside CORS: a 429 carries the CORS headers, so the widget can read it
    app.add_middleware(  # error answers carry CORS headers too
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Content-Type", "X-API-Key"],
        expose_headers=["Retry-After"],
        max_age=600,
    )
    add_read_routes(app, state)
    require_key = add_write_routes(app, state)
    portal.add_routes(app, require_key)
    add_page_routes(app)
    portal.add_metrics(app)  # outermost: counts every answer, 429s and CORS refusals included
    if searcher is not None:
        state.serve_searcher(searcher)  # after the hooks are registered
    return app


SERVE_ENV = "THAIGOV_SEARCH_SERVE_APP"  # `serve --workers N`: what each worker process builds (JSON)


def configure_process(settings: Settings) -> None:
    """Per-process setup of a serving process (the only one, or each worker)."""
    if settings.backend == "torch":  # importing torch costs seconds of start-up; the ONNX backends never need it
        import torch

        # Each request embeds one short query: one intra-op thread per request serves concurrent
        # clients better than every request fighting for all cores (see docs/reliability.md).
        torch.set_num_threads(1)


def app_from_environment() -> FastAPI:
    """The app of one worker of ``serve --workers N`` (uvicorn's factory, run in each worker process)."""
    import json
    import os

    spec = json.loads(os.environ[SERVE_ENV])
    settings = Settings.model_validate(spec["settings"])
    configure_process(settings)
    # Loaded before this worker accepts: one socket is shared, and only workers that call accept()
    # get connections, so no request meets a worker that is still loading.
    return create_app(Path(spec["index_dir"]), settings, load_in_background=False)


def serve(index_dir: Path, settings: Settings) -> None:
    """Serve the API and page with uvicorn until interrupted (the index loads in the background).

    With ``settings.workers`` > 1, uvicorn runs that many worker processes on one listening socket.
    Each opens the index itself; the snapshots are memory-mapped, so the workers share their pages
    in the page cache and each one costs its model and its own small state (docs/performance.md)."""
    import json
    import os

    import uvicorn

    from thaigov_search.store.manifest import Manifest

    Manifest.read(Path(index_dir))  # a missing index is a clear error now, not a 503 forever
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("listening on %s: the service is reachable from other machines", settings.host)
    workers = f", {settings.workers} worker processes" if settings.workers > 1 else ""
    print(f"thaigov-search: serving {index_dir} at http://{settings.host}:{settings.port}/{workers} "
          f"(API docs at /docs; Ctrl-C to stop)", file=sys.stderr, flush=True)
    options = dict(host=settings.host, port=settings.port, log_level="warning", access_log=False, server_header=False,
                   proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips)
    if settings.workers > 1:
        os.environ[SERVE_ENV] = json.dumps({"index_dir": str(Path(index_dir).absolute()),
                                            "settings": settings.model_dump(mode="json")})
        uvicorn.run("thaigov_search.api.app:app_from_environment", factory=True, workers=settings.workers, **options)
        return
    configure_process(settings)
    uvicorn.run(create_app(Path(index_dir), settings), **options)
