"""The HTTP service: JSON search API, the search page (``/``) and an embeddable widget (``/widget.js``).

Routes (see docs/api.md): ``GET /search``, ``GET /documents/{id}``, ``GET /documents/{id}/similar``,
``GET /categories``, ``GET /stats``, ``GET /health``, and — only when ``settings.api_key`` is set —
``POST /documents`` and ``DELETE /documents/{id}`` (header ``X-API-Key``).

Robustness rules: every error is JSON ``{"detail": "<reason>"}``; bad input is a 4xx (400 for
undecodable requests, 413 for oversized bodies, 422 for values that fail validation); searches run
in the threadpool under ``settings.request_timeout_s`` (504 on overrun); an unexpected exception is
logged and answered with a bare 500, never a stack trace.
"""


import asyncio
import hmac
import json
import logging
import sys
import threading
import unicodedata
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import unquote_to_bytes

import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search_api.searcher import MODES, Filters, Searcher
from search_api.validation import clean_query, validate_date_range
from thaigov_search.config import Settings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
ID_PATTERN = r"^[\w.:-]{1,200}$"
"""Document ids: letters (Thai included), combining marks, digits and ``_ . : -``; 1–200 characters.

Corpus ids look like ``tg012535``; ids of directory inputs come from file names and may be Thai
(``thaigov-corpus_21_ด้านเศรษฐกิจ_4``); other publishers' ids (``moi:2024.001``) fit too. No ``/``,
``%``, spaces, punctuation or control characters: every id is one clean URL path segment and safe to
echo in logs and messages. Ids are only ever SQL parameters, never file names. (``\\w`` is Unicode:
pydantic checks the pattern with its Rust regex engine.)
"""
MAX_OFFSET = 10_000
MAX_CATEGORY_CHARS = 200
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    ),
    "Referrer-Policy": "no-referrer",
}

T = TypeVar("T")
Mode = Literal["hybrid", "dense", "lexical"]
DocId = Annotated[str, PathParam(pattern=ID_PATTERN, description="Document id, e.g. tg012535.")]
assert set(MODES) == {"hybrid", "dense", "lexical"}


# ------------------------------------------------------------------------------------ models
class ErrorOut(BaseModel):
    detail: str = Field(description="Why the request failed, in words a user can act on.")


class SearchHit(BaseModel):
    id: str
    title: str
    date: str | None = Field(description="ISO YYYY-MM-DD (Gregorian), or null when the release has no date.")
    category: str
    url: str = Field(description="Source URL on thaigov.go.th (may be empty).")
    score: float
    snippet: str = Field(description="HTML: escaped text; matched words wrapped in <mark>. No other tags.")


class SearchOut(BaseModel):
    query: str
    took_ms: float
    total: int = Field(description="Matching articles in all (for pagination).")
    results: list[SearchHit]


class DocumentOut(BaseModel):
    id: str
    title: str
    date: str | None
    category: str
    url: str
    language: str
    body: str


class CategoryOut(BaseModel):
    category: str
    count: int


class StatsOut(BaseModel):
    articles: int
    passages: int
    model: str
    dimension: int
    built_at: str


class HealthOut(BaseModel):
    status: Literal["ok", "loading", "error"]
    detail: str | None = None


class ArticleIn(BaseModel):
    """One release to add or replace (same id = replace)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN, examples=["moi-2024-0001"])
    title: str = Field(min_length=1, max_length=2000)
    body: str = Field(min_length=1)
    date: str | None = Field(default=None, max_length=100, examples=["2018-08-29"],
                             description="YYYY-MM-DD, or a Thai date such as '29 สิงหาคม 2561'.")
    category: str = Field(default="", max_length=MAX_CATEGORY_CHARS)
    url: str = Field(default="", max_length=2000, description="Source URL: empty, http:// or https://.")
    language: Literal["th", "en"] | None = Field(default=None, description="Detected from the text when omitted.")

    @field_validator("url")
    @classmethod
    def web_url(cls, value: str) -> str:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value


class WriteOut(BaseModel):
    indexed: int = Field(description="Articles added or replaced.")
    unchanged: int = Field(description="Articles already indexed with the same content.")
    deleted: int
    not_found: list[str] = Field(default_factory=list, description="Ids asked to delete that were not indexed.")
    ids: list[str] = Field(default_factory=list)
    passages: int = 0
    seconds: float = 0.0


ARTICLE_LIST = TypeAdapter(list[ArticleIn])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "Undecodable request (invalid UTF-8, malformed JSON).",
        404: "Unknown document or route.",
        413: "Request body too large.",
        422: "A parameter or field failed validation.",
        503: "The index is still loading or could not be opened; for writes: an `index` run holds the index "
             "(Retry-After says when to try again).",
        504: "The request took longer than the server's time limit.",
    }.items()
}


# ------------------------------------------------------------------------------------- state
class ServiceState:
    """The searcher (loaded in a background thread) and the one shared, lock-guarded writer.

    ``index_dir`` is what the operator gave (maybe a symlink, see search_api/index_switch.py);
    ``served_dir`` the directory actually open. ``searcher_hooks`` run on every searcher before it is
    served (metrics attach their embedding timer); ``recorder`` records searches (search_api/analytics.py).
    """

    def __init__(self, index_dir: Path, settings: Settings):
        from indexer.backup import resolve_index

        self.index_dir = Path(index_dir)
        self.served_dir = resolve_index(self.index_dir)
        self.settings = settings
        self.searcher: Searcher | None = None
        self.error: str | None = None
        self.write_lock = threading.Lock()
        self._indexer: Any = None
        self.searcher_hooks: list[Callable[[Searcher], None]] = []
        self.recorder: Any = None

    def serve_searcher(self, searcher: Searcher) -> None:
        for hook in self.searcher_hooks:
            hook(searcher)
        self.searcher = searcher

    def swap(self, searcher: Searcher, served_dir: Path) -> None:
        """Serve another index from the next request on (a switched symlink); writes go there too."""
        with self.write_lock:
            if self._indexer is not None:
                self._indexer.close()
                self._indexer = None
            self.served_dir = served_dir
            self.serve_searcher(searcher)

    def after_search(self, query: str, mode: str, filters: Filters, total: int, took_ms: float) -> None:
        """Hand the search to the analytics recorder (queues it; never raises, never waits)."""
        if self.recorder is not None:
            from search_api.analytics import filters_of

            self.recorder.record(query, mode, filters_of(filters), total, took_ms)

    def load(self) -> None:
        """Open the index and warm up the model with one search, so the first real query is not the slow one."""
        try:
            searcher = Searcher(self.served_dir, self.settings)
            searcher.search("รัฐบาล government", k=1)  # loads the model and tokenisers now, not on the first query
            self.serve_searcher(searcher)
            logger.warning("index %s loaded; ready", self.served_dir)
        except Exception as exc:  # reported by /health and every route
            logger.exception("could not open the index %s", self.index_dir)
            self.error = f"could not open the index: {exc}"

    def require(self) -> Searcher:
        if self.searcher is None:
            raise HTTPException(503, self.error or "the index is still loading; try again in a moment")
        return self.searcher

    def indexer(self):
        """The shared incremental writer; uses the searcher's model (loaded once). Call under write_lock."""
        if self._indexer is None:
            from indexer.pipeline import Indexer

            self._indexer = Indexer(self.served_dir, self.settings, embedder=self.require().embedder,
                                    eager_snapshots=False)  # readers replay small deltas; no HNSW rebuild per POST
        return self._indexer

    def close(self) -> None:
        with self.write_lock:
            if self._indexer is not None:
                self._indexer.close()
                self._indexer = None


# -------------------------------------------------------------------------------- middleware
class RequestTooLarge(Exception):
    """The streamed request body went past the limit."""


def json_message(status: int, detail: str) -> tuple[Message, Message]:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    return start, {"type": "http.response.body", "body": body}


class GuardMiddleware:
    """Rejects undecodable URLs and oversized bodies; turns any unhandled exception into a JSON 500."""

    def __init__(self, app: ASGIApp, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self.check(scope)
        if problem:
            await self.reply(send, *problem)
            return
        started = False
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise RequestTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except RequestTooLarge:
            if not started:
                await self.reply(send, 413, f"the request body is larger than the limit of {self.max_body_bytes} bytes")
        except Exception:
            logger.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await self.reply(send, 500, "internal server error; the server log has the details")

    def check(self, scope: Scope) -> tuple[int, str] | None:
        """400 for invalid UTF-8 in the path or query string, 413/400 for a bad Content-Length."""
        for part, raw in (("path", scope.get("raw_path") or b""), ("query string", scope.get("query_string", b""))):
            try:
                unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return 400, f"the URL {part} is not valid UTF-8 after percent-decoding"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                if not value.strip().isdigit():
                    return 400, "the Content-Length header is not a number"
                if int(value) > self.max_body_bytes:
                    return 413, f"the request body is {int(value)} bytes; the limit is {self.max_body_bytes}"
        return None

    @staticmethod
    async def reply(send: Send, status: int, detail: str) -> None:
        start, body = json_message(status, detail)
        await send(start)
        await send(body)


# ---------------------------------------------------------------------------- error handlers
def describe_validation(errors: list[dict[str, Any]], request_parts: bool = True) -> str:
    """`k: Input should be less than or equal to 100; ...` — the parameter name first.

    With ``request_parts`` the leading ``query``/``path``/``body``/``header`` of FastAPI's locations is dropped.
    """
    parts = []
    for error in errors:
        loc = list(error.get("loc", ()))
        if request_parts and loc and loc[0] in ("query", "path", "body", "header"):
            loc = loc[1:]
        where = ".".join(str(p) for p in loc)
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"detail": describe_validation(exc.errors()), "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"Not Found: nothing at {request.url.path}; the API is described at /docs"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:  # last resort, see GuardMiddleware
        logger.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal server error; the server log has the details"}, status_code=500)


# -------------------------------------------------------------------------------------- app
def create_app(index_dir: Path, settings: Settings, searcher: Searcher | None = None) -> FastAPI:
    """The service over one index; with ``searcher=None`` the index loads in a background thread."""
    state = ServiceState(index_dir, settings)
    portal = PortalFeatures(app_state=state)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if state.searcher is None:
            threading.Thread(target=state.load, name="index-loader", daemon=True).start()
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


class PortalFeatures:
    """Feeds, OpenSearch, rate limit, metrics, analytics and the index switch watcher, each from its own
    module (search_api/feeds.py, rate_limit.py, metrics.py, analytics.py, index_switch.py); those modules
    import this one, hence the late imports."""

    def __init__(self, app_state: ServiceState):
        self.state = app_state
        self.settings = app_state.settings
        self.metrics: Any = None
        self.watcher: Any = None

    def add_rate_limit(self, app: FastAPI) -> None:
        if self.settings.rate_limit_per_s:
            from search_api.rate_limit import RateLimitMiddleware

            app.add_middleware(RateLimitMiddleware, rate=self.settings.rate_limit_per_s,
                               burst=self.settings.rate_limit_burst, on_limited=self._limited)

    def _limited(self) -> None:
        if self.metrics is not None:
            self.metrics.rate_limited.inc()

    def add_routes(self, app: FastAPI, require_key: Callable) -> None:
        from search_api.analytics import add_analytics_routes
        from search_api.feeds import add_feed_routes

        add_feed_routes(app, self.state)
        add_analytics_routes(app, self.state, require_key)
        if self.settings.metrics:
            from search_api.metrics import ServiceMetrics, add_metrics_route

            self.metrics = ServiceMetrics(self.state)
            add_metrics_route(app, self.state, self.metrics)
            self.state.searcher_hooks.append(self._time_embeddings)

    def _time_embeddings(self, searcher: Searcher) -> None:
        searcher.on_embed = self.metrics.observe_embedding

    def add_metrics(self, app: FastAPI) -> None:
        if self.metrics is not None:
            from search_api.metrics import MetricsMiddleware

            app.add_middleware(MetricsMiddleware, metrics=self.metrics, routes=app.router.routes)

    def start(self) -> None:
        """At server start: the analytics writer and the index watcher threads."""
        if self.settings.analytics:
            from indexer.analytics_store import analytics_path
            from search_api.analytics import SearchRecorder

            drop = self.metrics.analytics_dropped.inc if self.metrics is not None else None
            recorder = SearchRecorder(analytics_path(self.state.index_dir, self.settings.analytics_db), self.settings, drop)
            recorder.start()
            self.state.recorder = recorder
        from search_api.index_switch import IndexWatcher

        self.watcher = IndexWatcher(self.state, self.settings.index_watch_s)
        self.watcher.start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.state.recorder is not None:
            self.state.recorder.close()
            self.state.recorder = None


async def in_threadpool(settings: Settings, fn: Callable[..., T], *args: Any) -> T:
    """Run CPU-bound work off the event loop, within the request time limit (504 on overrun).

    On overrun the answer goes out at once; the thread finishes its (read-only) work and is dropped.
    """
    call = anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)
    try:
        return await asyncio.wait_for(call, timeout=settings.request_timeout_s)
    except asyncio.TimeoutError:
        raise HTTPException(
            504, f"the request took longer than the server's limit of {settings.request_timeout_s:g} s"
        ) from None


def check_text(value: str | None, name: str) -> str | None:
    if value is not None and any(unicodedata.category(ch) == "Cc" for ch in value):
        raise HTTPException(422, f"{name} contains control characters")
    return value or None


def search_params(
    q: Annotated[str, Query(description="The query, Thai or English.", examples=["การประชุมรัฐบาลดิจิทัล"])],
    mode: Annotated[Mode, Query(description="hybrid, dense (meaning only) or lexical (BM25 only).")] = "hybrid",
    date_from: Annotated[str | None, Query(description="Earliest date, YYYY-MM-DD (inclusive).")] = None,
    date_to: Annotated[str | None, Query(description="Latest date, YYYY-MM-DD (inclusive).")] = None,
    category: Annotated[str | None, Query(max_length=MAX_CATEGORY_CHARS, description="Exact category (see /categories).")] = None,
) -> tuple[str, str, Filters]:
    """Validate the query and filters (422 with the reason)."""
    try:
        date_from, date_to = validate_date_range(date_from, date_to)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return q, mode, Filters(date_from, date_to, check_text(category, "category"))


def add_read_routes(app: FastAPI, state: ServiceState) -> None:
    settings = state.settings

    @app.get("/search", response_model=SearchOut, responses=ERRORS, tags=["search"])
    async def search(
        params: Annotated[tuple[str, str, Filters], Depends(search_params)],
        k: Annotated[int, Query(ge=1, le=settings.max_k, description="Results per page.")] = 10,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Results to skip (pagination).")] = 0,
    ) -> SearchOut:
        """Ranked releases for a query; each with a snippet whose matched words are in `<mark>`."""
        q, mode, filters = params
        try:
            query = clean_query(q, settings.max_query_chars)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        response = await in_threadpool(settings, state.require().search, query, k, offset, mode, filters)
        state.after_search(query, mode, filters, response.total, response.took_ms)
        return SearchOut.model_validate(response.to_dict())

    @app.get("/documents/{doc_id}", response_model=DocumentOut, responses=ERRORS, tags=["documents"])
    async def get_document(doc_id: DocId) -> DocumentOut:
        """One release in full."""
        article = await in_threadpool(settings, state.require().get, doc_id)
        if article is None:
            raise HTTPException(404, f"no document with id {doc_id!r} in this index")
        return DocumentOut(id=article.id, title=article.title, date=article.date, category=article.category,
                           url=article.url, language=article.language, body=article.body)

    @app.get("/documents/{doc_id}/similar", response_model=SearchOut, responses=ERRORS, tags=["documents"])
    async def similar(
        doc_id: DocId,
        k: Annotated[int, Query(ge=1, le=settings.max_k, description="Related releases to return.")] = 10,
    ) -> SearchOut:
        """Related releases (nearest by meaning), never the release itself."""
        response = await in_threadpool(settings, state.require().similar, doc_id, k)
        if response is None:
            raise HTTPException(404, f"no document with id {doc_id!r} in this index")
        return SearchOut.model_validate(response.to_dict())

    @app.get("/categories", response_model=list[CategoryOut], responses=ERRORS, tags=["index"])
    async def categories() -> list[CategoryOut]:
        """Categories (news sections) with their article counts, largest first."""
        rows = await in_threadpool(settings, state.require().categories)
        return [CategoryOut(**row) for row in rows]

    @app.get("/stats", response_model=StatsOut, responses=ERRORS, tags=["index"])
    async def stats() -> StatsOut:
        """Size of the index and the model it was built with."""
        return StatsOut(**await in_threadpool(settings, state.require().stats))

    @app.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}}, tags=["index"])
    async def health() -> JSONResponse:
        """200 `ok` once the index is loaded; 503 `loading` before, 503 `error` if it could not be opened."""
        if state.searcher is not None:
            return JSONResponse({"status": "ok"})
        if state.error:
            return JSONResponse({"status": "error", "detail": state.error}, status_code=503)
        return JSONResponse({"status": "loading"}, status_code=503)


def add_write_routes(app: FastAPI, state: ServiceState) -> Callable:
    """POST/DELETE /documents; returns the API-key dependency (the admin routes use it too)."""
    settings = state.settings
    api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                                  description="Required for writes; the server's THAIGOV_SEARCH_API_KEY.")

    def require_key(key: Annotated[str | None, Depends(api_key_header)]) -> None:
        """403 when writes are disabled, 401 without a key, 403 with a wrong one (constant-time compare)."""
        if not settings.api_key:
            raise HTTPException(403, "writes are disabled on this server: start it with THAIGOV_SEARCH_API_KEY set")
        if not key:
            raise HTTPException(401, "this route needs the X-API-Key header",
                                headers={"WWW-Authenticate": 'APIKey header="X-API-Key"'})
        if not hmac.compare_digest(key.encode("utf-8"), settings.api_key.encode("utf-8")):
            raise HTTPException(403, "the X-API-Key is not valid")

    body_schema = {"anyOf": [ArticleIn.model_json_schema(), {"type": "array", "items": ArticleIn.model_json_schema()}]}

    @app.post("/documents", response_model=WriteOut, responses=ERRORS | {401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
              dependencies=[Depends(require_key)], tags=["write"],
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": body_schema}}}})
    async def add_documents(request: Request) -> WriteOut:
        """Add or replace one release or a list of them (JSON), searchable as soon as this returns."""
        articles = parse_articles(await request.body())
        report = await run_in_threadpool(write, state, lambda indexer: indexer.index_articles(articles))
        return WriteOut(indexed=report.indexed, unchanged=report.unchanged, deleted=report.deleted,
                        ids=[a.id for a in articles], passages=report.passages, seconds=round(report.seconds, 3))

    @app.delete("/documents/{doc_id}", response_model=WriteOut,
                responses=ERRORS | {401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
                dependencies=[Depends(require_key)], tags=["write"])
    async def delete_document(doc_id: DocId) -> WriteOut:
        """Remove a release; 404 if it was not indexed."""
        report = await run_in_threadpool(write, state, lambda indexer: indexer.delete([doc_id]))
        if report.not_found_for_delete:
            raise HTTPException(404, f"no document with id {doc_id!r} in this index; nothing deleted")
        return WriteOut(indexed=0, unchanged=0, deleted=report.deleted, ids=[doc_id])

    return require_key


RETRY_AFTER_S = 30
"""Retry-After of a 503 while an `index` run holds the writer lock (such runs commit every 200 articles)."""


def write(state: ServiceState, action: Callable[[Any], T]) -> T:
    """Run one write through the shared indexer, one at a time (blocking: call it in the threadpool).

    Writes have no time limit: stopping to wait would not stop the write, which commits anyway.
    Each write holds the index's writer lock (:mod:`indexer.write_guard`) only while it runs, so an
    `index` run waits at most for one write; a write that finds an `index` run holding it waits
    ``settings.write_wait_s`` and then answers 503 with Retry-After, applying nothing.
    """
    from indexer.write_guard import IndexBusyError, writer_lock

    state.require()
    with state.write_lock:
        try:
            with writer_lock(state.index_dir, "thaigov-search serve (POST/DELETE /documents)",
                             wait=state.settings.write_wait_s):
                return action(state.indexer())
        except IndexBusyError as exc:
            raise HTTPException(
                503, f"{exc}; this write was not applied, send it again later",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            ) from None


def parse_articles(raw: bytes) -> list:
    """JSON body → validated Articles; 400 for undecodable JSON, 422 for invalid articles."""
    from indexer.parsing import EmptyArticleError

    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise HTTPException(400, "the request body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise HTTPException(400, f"the request body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except (RecursionError, ValueError):  # nesting deeper than the parser's stack; an integer over 4300 digits
        raise HTTPException(400, "the request body is not usable JSON: nested too deeply or a number too long") from None
    if not isinstance(data, (dict, list)):
        raise HTTPException(422, "the body must be a JSON object (one document) or a list of objects")
    try:
        items = ARTICLE_LIST.validate_python(data) if isinstance(data, list) else [ArticleIn.model_validate(data)]
    except ValidationError as exc:
        raise HTTPException(422, describe_validation(exc.errors(), request_parts=False)) from None
    if not items:
        raise HTTPException(422, "the list of documents is empty")
    seen: set[str] = set()
    articles = []
    for n, item in enumerate(items):
        where = f"document {n} ({item.id})" if isinstance(data, list) else f"document {item.id}"
        if item.id in seen:
            raise HTTPException(422, f"{where}: the id appears more than once in this request")
        seen.add(item.id)
        try:
            articles.append(article_from_item(item))
        except (EmptyArticleError, ValueError) as exc:
            raise HTTPException(422, f"{where}: {exc}") from None
    return articles


def article_from_item(item: ArticleIn):
    """The indexer's own parsing (normalisation, Thai dates, language), stricter: every field must be usable."""
    from indexer.parsing import article_from_fields

    for name in ("title", "category", "url"):
        if any(unicodedata.category(ch) == "Cc" for ch in getattr(item, name)):
            raise ValueError(f"{name} contains control characters")
    article = article_from_fields(item.id, item.model_dump(exclude={"id"}, exclude_none=True))
    if item.date and item.date.strip() and article.date is None:
        raise ValueError(f"date {item.date[:40]!r} is not a date: use YYYY-MM-DD (or a Thai date such as '29 สิงหาคม 2561')")
    for name in ("title", "body"):
        if not getattr(article, name).strip():
            raise ValueError(f"{name} is empty")
    return article


def add_page_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)

    @app.get("/widget.js", include_in_schema=False)
    async def widget() -> FileResponse:
        return FileResponse(STATIC_DIR / "widget.js", media_type="text/javascript; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


# ------------------------------------------------------------------------------------ serve
def serve(index_dir: Path, settings: Settings) -> None:
    """Serve the API and page with uvicorn until interrupted (the index loads in the background)."""
    import uvicorn

    from indexer.storage import Manifest

    Manifest.read(Path(index_dir))  # a missing index is a clear error now, not a 503 forever
    import torch

    # Each request embeds one short query: one intra-op thread per request serves concurrent
    # clients better than every request fighting for all cores (see docs/reliability.md).
    torch.set_num_threads(1)
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("listening on %s: the service is reachable from other machines", settings.host)
    print(f"thaigov-search: serving {index_dir} at http://{settings.host}:{settings.port}/ "
          f"(API docs at /docs; Ctrl-C to stop)", file=sys.stderr, flush=True)
    uvicorn.run(create_app(Path(index_dir), settings), host=settings.host, port=settings.port,
                log_level="warning", access_log=False, server_header=False,
                proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips)
