"""``POST /documents`` and ``DELETE /documents/{id}`` (only with ``settings.api_key``): JSON in,
the indexer's own parsing, one write at a time through the shared writer.
"""

import hmac
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import APIKeyHeader
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from thaigov_search.api.errors import describe_validation
from thaigov_search.api.schemas import ARTICLE_LIST, ERRORS, ArticleIn, DocId, ErrorOut, WriteOut
from thaigov_search.api.state import ServiceState
from thaigov_search.search.validation import has_control_chars
from thaigov_search.store.write_guard import IndexBusyError, writer_lock

T = TypeVar("T")


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
    Each write holds the index's writer lock (:mod:`thaigov_search.store.write_guard`) only while it runs, so an
    `index` run waits at most for one write; a write that finds an `index` run holding it waits
    ``settings.write_wait_s`` and then answers 503 with Retry-After, applying nothing.
    """
    state.require()
    with state.write_lock:
        try:
            with writer_lock(state.served_dir, "thaigov-search serve (POST/DELETE /documents)",
                             wait=state.settings.write_wait_s):
                return action(state.indexer())
        except IndexBusyError as exc:
            raise HTTPException(
                503, f"{exc}; this write was not applied, send it again later",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            ) from None


def parse_articles(raw: bytes) -> list:
    """JSON body → validated Articles; 400 for undecodable JSON, 422 for invalid articles."""
    from thaigov_search.indexing.parsing import EmptyArticleError

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
    from thaigov_search.indexing.parsing import article_from_fields

    for name in ("title", "category", "url"):
        if has_control_chars(getattr(item, name)):
            raise ValueError(f"{name} contains control characters")
    article = article_from_fields(item.id, item.model_dump(exclude={"id"}, exclude_none=True))
    if item.date and item.date.strip() and article.date is None:
        raise ValueError(f"date {item.date[:40]!r} is not a date: use YYYY-MM-DD (or a Thai date such as '29 สิงหาคม 2561')")
    for name in ("title", "body"):
        if not getattr(article, name).strip():
            raise ValueError(f"{name} is empty")
    return article
