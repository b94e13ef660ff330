"""The service's state: the searcher (loaded in a background thread) and the one shared writer."""

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from thaigov_search.core.filters import Filters
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher
from thaigov_search.store.backup import resolve_index

logger = logging.getLogger(__name__)


class ServiceState:
    """The searcher (loaded in a background thread) and the one shared, lock-guarded writer.

    ``index_dir`` is what the operator gave (maybe a symlink, see api/index_switch.py); ``served_dir``
    the directory actually open. ``searcher_hooks`` run on every searcher before it is served (metrics
    attach their embedding timer); ``recorder`` records searches (api/analytics.py).
    """

    def __init__(self, index_dir: Path, settings: Settings):
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
            self.recorder.record(query, mode, filters.given(), total, took_ms)

    def load(self) -> None:
        """Open the index and warm up the model with one search, so the first real query is not the slow one;
        the spelling vocabulary and suggestions are loaded in the background once ready."""
        started = time.perf_counter()
        try:
            # Sizes and headers checked now, every page and checksum in the background (verify_files):
            # quick_check alone read 340 MB in 0.5 s at 10k articles, seconds at the full corpus.
            searcher = Searcher(self.served_dir, self.settings, verify="later")
            searcher.warm_up(dense_query=True)  # the model, tokenisers, BM25 now, not on the first query (spelling: below)
            self.serve_searcher(searcher)
            searcher.prepare_suggestions()  # built in a background thread; /suggest answers [] until then
            logger.warning("index %s loaded in %.2fs; ready", self.served_dir, time.perf_counter() - started)
        except Exception as exc:  # reported by /health and every route
            logger.exception("could not open the index %s", self.index_dir)
            self.error = f"could not open the index: {exc}"
            return
        threading.Thread(target=self._verify, args=(searcher,), name="index-verify", daemon=True).start()

    def _verify(self, searcher: Searcher) -> None:
        """The checks the fast open left out; a damaged file stops the service from answering (503 with the reason).
        With writes enabled, first the token counter the write path chunks with (made on first use: 1-2.5 s
        here), so the first POST does not pay for it."""
        try:
            if self.settings.api_key:
                searcher.embedder.count_tokens("")
            searcher.reader.verify_files()
        except Exception as exc:  # noqa: BLE001 - reported by /health and every route
            logger.exception("the index %s failed its integrity check", self.served_dir)
            if self.searcher is searcher:
                self.error = f"could not open the index: {exc}"
                self.searcher = None

    def require(self) -> Searcher:
        if self.searcher is None:
            raise HTTPException(503, self.error or "the index is still loading; try again in a moment")
        return self.searcher

    def indexer(self):
        """The shared incremental writer; uses the searcher's model (loaded once). Call under write_lock."""
        if self._indexer is None:
            from thaigov_search.indexing.pipeline import Indexer

            self._indexer = Indexer(self.served_dir, self.settings, embedder=self.require().embedder,
                                    eager_snapshots=False)  # readers replay small deltas; no HNSW rebuild per POST
        return self._indexer

    def close(self) -> None:
        with self.write_lock:
            if self._indexer is not None:
                self._indexer.close()
                self._indexer = None
