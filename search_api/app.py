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
    suggested_filter: dict[str, str] | None = Field(
        default=None, description="A period the query names (e.g. 'ปี 2561', 'May 2022') as date_from/date_to: "
        "releases from it already rank a little higher; pass it as a filter to see only those.")


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
        503: "The index is still loading or could not be opened.",
        504: "The request took longer than the server's time limit.",
    }.items()
}


# ------------------------------------------------------------------------------------- state
class ServiceState:
    """The searcher (loaded in a background thread) and the one shared, lock-guarded writer."""

    def __init__(self, index_dir: Path, settings: Settings, searcher: Searcher | None):
        self.index_dir = Path(index_dir)
        self.settings = settings
        self.searcher = searcher
        self.error: str | None = None
        self.write_lock = threading.Lock()
        self._indexer: Any = None

    def load(self) -> None:
        """Open the index and warm up the model with one search, so the first real query is not the slow one."""
        try:
            searcher = Searcher(self.index_dir, self.settings)
            searcher.search("รัฐบาล government", k=1)  # loads the model and tokenisers now, not on the first query
            self.searcher = searcher
            logger.warning("index %s loaded; ready", self.index_dir)
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

            self._indexer = Indexer(self.index_dir, self.settings, embedder=self.require().embedder,
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
    state = ServiceState(index_dir, settings, searcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if state.searcher is None:
            threading.Thread(target=state.load, name="index-loader", daemon=True).start()
        yield
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
    app.add_middleware(  # outermost: error answers carry CORS headers too
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Content-Type", "X-API-Key"],
        max_age=600,
    )
    add_read_routes(app, state)
    add_write_routes(app, state)
    add_page_routes(app)
    return app


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
    language: Annotated[Literal["th", "en"] | None, Query(description="Only releases in this language (th or en).")] = None,
) -> tuple[str, str, Filters]:
    """Validate the query and filters (422 with the reason)."""
    try:
        date_from, date_to = validate_date_range(date_from, date_to)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return q, mode, Filters(date_from, date_to, check_text(category, "category"), language)


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


def add_write_routes(app: FastAPI, state: ServiceState) -> None:
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


def write(state: ServiceState, action: Callable[[Any], T]) -> T:
    """Run one write through the shared indexer, one at a time (blocking: call it in the threadpool).

    Writes have no time limit: stopping to wait would not stop the write, which commits anyway.
    """
    state.require()
    with state.write_lock:
        return action(state.indexer())


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
                log_level="warning", access_log=False, server_header=False)
