"""Recording searches off the request path, and the admin report route.

A search hands its record to :meth:`SearchRecorder.record`, which only puts it on a bounded queue
(``put_nowait``: it never waits and never raises). One background thread takes records off in
batches (up to :data:`BATCH` per transaction) and writes them with
:class:`thaigov_search.store.analytics.AnalyticsStore`; it prunes old records at start and then hourly.
If the queue is full (the disk stalled for a long time) records are dropped and counted; if the file
cannot be opened or written, the error is logged (once per kind of failure, not per search) and
searches carry on. So recording can never slow or fail a search: the worst case is a gap in the
statistics, visible in the log and in ``thaigov_search_analytics_dropped_total`` on /metrics.

What is recorded (see store/analytics.py): query text, mode, filters, result count,
latency and time. Never the client's address or any header. Only ``GET /search`` is recorded: feed
readers poll the same feed every few minutes and would drown what people actually ask.
"""

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel

from thaigov_search.api.routes import in_threadpool
from thaigov_search.api.schemas import ERRORS, ErrorOut
from thaigov_search.core.settings import Settings
from thaigov_search.search.validation import validate_date
from thaigov_search.store.analytics import AnalyticsStore, SearchRecord, read_report

logger = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
BATCH = 500
PRUNE_EVERY_S = 3600.0


class SearchRecorder:
    """Bounded queue → one writer thread → the analytics file."""

    def __init__(self, path: Path, settings: Settings, on_drop: Callable[[], None] | None = None):
        self.path = Path(path)
        self.settings = settings
        self.on_drop = on_drop
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self._stop = object()
        self._failing: str | None = None

    # -------------------------------------------------------------------- request side
    def record(self, query: str, mode: str, filters: dict[str, str], results: int, latency_ms: float) -> None:
        """Queue one search; returns at once, whatever the state of the disk."""
        try:
            self._queue.put_nowait(SearchRecord(dt.datetime.now().astimezone(), query, mode, int(results),
                                                float(latency_ms), filters))
        except queue.Full:
            self.dropped += 1
            if self.on_drop is not None:
                self.on_drop()
        except Exception:  # never let statistics fail a search
            logger.exception("could not queue a search record")

    # ---------------------------------------------------------------------- writer side
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="analytics-writer", daemon=True)
        self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written (True) or the timeout passes (False)."""
        if self._thread is None or not self._thread.is_alive():
            return False
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is None:
            return
        try:
            self._queue.put(self._stop, timeout=timeout)
        except queue.Full:
            logger.warning("analytics queue still full at shutdown; %d records not written", self._queue.qsize())
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        store: AnalyticsStore | None = None
        pruned_at = 0.0
        stopping = False
        while not stopping:
            items = [self._queue.get()]
            while len(items) < BATCH:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [i for i in items if isinstance(i, SearchRecord)]
            stopping = any(i is self._stop for i in items)
            try:
                if store is None:
                    store = AnalyticsStore(self.path)
                store.add(records)
                self.written += len(records)
                if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                    removed = store.prune(self.settings.analytics_raw_days, self.settings.analytics_days)
                    pruned_at = time.monotonic()
                    if removed:
                        logger.info("analytics: pruned %d old rows from %s", removed, self.path)
                self._failing = None
            except Exception as exc:
                self.dropped += len(records)
                if self.on_drop is not None:
                    for _ in records:
                        self.on_drop()
                kind = type(exc).__name__
                if self._failing != kind:  # once per kind of failure, not once per search
                    logger.warning("analytics: could not write %d search records to %s (%s); searches are not "
                                   "affected", len(records), self.path, exc)
                    self._failing = kind
                if store is not None:
                    store.close()
                    store = None
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()
        if store is not None:
            store.close()


class QueryCount(BaseModel):
    query: str
    count: int


class AnalyticsOut(BaseModel):
    top_queries: list[QueryCount]
    zero_result_queries: list[QueryCount]
    searches: int


def add_analytics_routes(app: FastAPI, state, require_key: Callable) -> None:
    """``GET /admin/analytics`` (X-API-Key): top and zero-result queries since a day."""
    settings: Settings = state.settings

    @app.get("/admin/analytics", response_model=AnalyticsOut, dependencies=[Depends(require_key)], tags=["admin"],
             responses=ERRORS | {401: {"model": ErrorOut}, 403: {"model": ErrorOut}})
    async def analytics(
        since: Annotated[str | None, Query(description="First day counted, YYYY-MM-DD (default: all kept).")] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="Queries per list.")] = 20,
    ) -> AnalyticsOut:
        """Most frequent queries and queries that found nothing, since a day (server-local dates)."""
        try:
            day = validate_date(since, "since")
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        recorder: SearchRecorder | None = state.recorder
        if recorder is None:
            raise HTTPException(404, "search analytics are off on this server (THAIGOV_SEARCH_ANALYTICS=false)")
        await in_threadpool(settings, recorder.flush, 2.0)  # include the searches of the last moment
        return AnalyticsOut.model_validate(await in_threadpool(settings, read_report, recorder.path, day, limit))
