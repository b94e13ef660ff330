"""The service's state: the searcher (loaded in a background thread) and the one shared writer."""

import logging
import threading
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher

logger = logging.getLogger(__name__)


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
            from thaigov_search.indexing.pipeline import Indexer

            self._indexer = Indexer(self.index_dir, self.settings, embedder=self.require().embedder,
                                    eager_snapshots=False)  # readers replay small deltas; no HNSW rebuild per POST
        return self._indexer

    def close(self) -> None:
        with self.write_lock:
            if self._indexer is not None:
                self._indexer.close()
                self._indexer = None
