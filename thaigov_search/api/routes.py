"""The read routes (search, documents, similar, categories, stats, health) and the page.

Searches run in the threadpool under ``settings.request_timeout_s`` (504 on overrun).
"""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from thaigov_search.api.schemas import (
    ERRORS,
    MAX_CATEGORY_CHARS,
    MAX_OFFSET,
    MAX_RECENCY_DAYS,
    MAX_SUGGEST_CHARS,
    MAX_SUGGEST_K,
    CategoryOut,
    DocId,
    DocumentOut,
    HealthOut,
    StatsOut,
)
from thaigov_search.api.state import ServiceState
from thaigov_search.core.filters import Filters
from thaigov_search.core.modes import FACETS, Language, SearchMode, SortOrder
from thaigov_search.core.settings import Settings
from thaigov_search.search.results import SearchResponse, SuggestResponse
from thaigov_search.search.validation import clean_query, has_control_chars, validate_date_range

STATIC_DIR = Path(__file__).parent / "static"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    ),
    "Referrer-Policy": "no-referrer",
}
T = TypeVar("T")
SUGGEST_WAIT_S = 2.0  # the first /suggest after start-up waits this long for the phrases, then answers []


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


def checked_query(q: str, settings: Settings) -> str:
    """The query as searched (search.validation.clean_query), or 422 with the reason."""
    try:
        return clean_query(q, settings.max_query_chars)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def check_text(value: str | None, name: str) -> str | None:
    if value is not None and has_control_chars(value):
        raise HTTPException(422, f"{name} contains control characters")
    return value or None


def search_params(
    q: Annotated[str, Query(description="The query, Thai or English.", examples=["การประชุมรัฐบาลดิจิทัล"])],
    mode: Annotated[SearchMode, Query(description="hybrid, dense (meaning only) or lexical (BM25 only).")] = "hybrid",
    date_from: Annotated[str | None, Query(description="Earliest date, YYYY-MM-DD (inclusive).")] = None,
    date_to: Annotated[str | None, Query(description="Latest date, YYYY-MM-DD (inclusive).")] = None,
    category: Annotated[str | None, Query(max_length=MAX_CATEGORY_CHARS, description="Exact category (see /categories).")] = None,
    language: Annotated[Language | None, Query(description="Only releases in this language (th or en).")] = None,
) -> tuple[str, str, Filters]:
    """Validate the query and filters (422 with the reason)."""
    try:
        date_from, date_to = validate_date_range(date_from, date_to)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return q, mode, Filters(date_from, date_to, check_text(category, "category"), language)


def parse_facets(value: str | None) -> tuple[str, ...]:
    """``facets=category,year`` -> ("category", "year"); 422 naming an unknown one."""
    if not value:
        return ()
    names = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = [name for name in names if name not in FACETS]
    if unknown:
        raise HTTPException(422, f"facets: unknown facet {unknown[0]!r}; use a comma list of {', '.join(FACETS)}")
    return names


def archive_params(
    sort: Annotated[SortOrder, Query(description="relevance (default), date_desc (newest first) or date_asc; "
                                     "date orders cover the whole result set.")] = "relevance",
    recency: Annotated[float | None, Query(ge=0, le=MAX_RECENCY_DAYS, description=(
        "Recency half-life in days: the fused score halves every this many days of age, after fusion "
        "(0 = off; default: the server's THAIGOV_SEARCH_RECENCY_HALF_LIFE_DAYS, 0)."))] = None,
    facets: Annotated[str | None, Query(max_length=100, description=(
        "Comma list of category, year, month: counts over the whole result set."), examples=["category,year"])] = None,
    collapse: Annotated[bool | None, Query(description="Fold near-duplicate versions of a release into one result "
                                           "(its `duplicates` says how many); default: the server's "
                                           "THAIGOV_SEARCH_COLLAPSE_DUPLICATES, true.")] = None,
) -> dict:
    return {"sort": sort, "recency": recency, "facets": parse_facets(facets), "collapse": collapse}


def add_read_routes(app: FastAPI, state: ServiceState) -> None:
    settings = state.settings

    @app.get("/search", response_model=SearchResponse, responses=ERRORS, tags=["search"])
    async def search(
        params: Annotated[tuple[str, str, Filters], Depends(search_params)],
        archive: Annotated[dict, Depends(archive_params)],
        k: Annotated[int, Query(ge=1, le=settings.max_k, description="Results per page.")] = 10,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Results to skip (pagination).")] = 0,
    ) -> SearchResponse:
        """Ranked releases for a query; each with a snippet whose matched words are in `<mark>`; facet
        counts over the whole result set; a corrected query when nothing matched."""
        q, mode, filters = params
        query = checked_query(q, settings)
        searcher = state.require()

        def run() -> SearchResponse:
            return searcher.search(query, k, offset, mode, filters, **archive)

        response = await in_threadpool(settings, run)
        state.after_search(query, mode, filters, response.total, response.took_ms)
        return response

    @app.get("/documents/{doc_id}", response_model=DocumentOut, responses=ERRORS, tags=["documents"])
    async def get_document(doc_id: DocId) -> DocumentOut:
        """One release in full."""
        searcher = state.require()

        def run():
            return searcher.get(doc_id), searcher.duplicates_of(doc_id), searcher.twin_of(doc_id)

        article, duplicates, twin = await in_threadpool(settings, run)
        if article is None:
            raise HTTPException(404, f"no document with id {doc_id!r} in this index")
        return DocumentOut(**article.as_document(), duplicates=duplicates or [], twin=twin)

    @app.get("/suggest", response_model=SuggestResponse, responses=ERRORS, tags=["search"])
    async def suggest(
        q: Annotated[str, Query(min_length=1, max_length=MAX_SUGGEST_CHARS, description=(
            "What the user has typed so far; may end inside a Thai word."), examples=["เหลื่"])],
        k: Annotated[int, Query(ge=1, le=MAX_SUGGEST_K, description="Suggestions to return.")] = 8,
    ) -> SuggestResponse:
        """Completions as the user types: phrases from the index's titles that start with `q`, most
        frequent first (an empty list while the phrases are first built after start-up)."""
        if has_control_chars(q):
            raise HTTPException(422, "q contains control characters")
        if not q.strip():
            raise HTTPException(422, "q is empty")
        return await in_threadpool(settings, state.require().suggest, q, k, SUGGEST_WAIT_S)

    @app.get("/documents/{doc_id}/similar", response_model=SearchResponse, responses=ERRORS, tags=["documents"])
    async def similar(
        doc_id: DocId,
        k: Annotated[int, Query(ge=1, le=settings.max_k, description="Related releases to return.")] = 10,
    ) -> SearchResponse:
        """Related releases (nearest by meaning), never the release itself."""
        response = await in_threadpool(settings, state.require().similar, doc_id, k)
        if response is None:
            raise HTTPException(404, f"no document with id {doc_id!r} in this index")
        return response

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


def add_page_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)

    @app.get("/widget.js", include_in_schema=False)
    async def widget() -> FileResponse:
        return FileResponse(STATIC_DIR / "widget.js", media_type="text/javascript; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
