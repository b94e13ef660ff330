"""Following a switched index symlink without downtime (the serving half of store/backup.py's switch).

``serve --index-dir /srv/thaigov/current`` opens the directory the link points at. A watcher thread
re-resolves the link every ``settings.index_watch_s`` seconds; when it points elsewhere, the watcher
opens the new index *beside* the old one (model shared when both were built with the same one),
warms it with a real search (which also loads the in-memory BM25 terms: 17-34 s on the full corpus,
docs/design.md), and only then makes it the served searcher, in one assignment. Requests already
running finish on the old searcher; the next ones use the new. Nothing is refused or slowed while
the new index loads, except for the CPU the load itself takes. If the new index cannot be opened
the old one stays served, the error is logged, and that target is not retried until the link
changes again.
"""

import logging
import threading
from pathlib import Path
from typing import Any

from thaigov_search.core.models import recorded_model
from thaigov_search.search.searcher import Searcher
from thaigov_search.store.backup import resolve_index
from thaigov_search.store.manifest import Manifest

logger = logging.getLogger(__name__)


def open_beside(target: Path, current: Searcher | None, settings: Any) -> Searcher:
    """A warmed searcher over ``target``, reusing the current one's model when the index has the same."""
    embedder = None
    if current is not None:
        if recorded_model(Manifest.read(target).model) == recorded_model(current.reader.manifest.model):
            embedder = current.embedder
    searcher = Searcher(target, settings, embedder=embedder)
    searcher.warm_up()
    searcher.search("รัฐบาล government", k=1)
    return searcher


class IndexWatcher:
    """The thread that notices a switched link and swaps the served searcher (``state.swap``)."""

    def __init__(self, state: Any, interval_s: float):
        self.state = state
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed: Path | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="index-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def check(self) -> bool:
        """One look at the link; True when a new index was switched in."""
        state = self.state
        if state.searcher is None:
            return False  # still loading the first index: its loader reads the link when it starts
        target = resolve_index(state.index_dir)
        if target == state.served_dir or target == self._failed:
            return False
        logger.warning("%s now points at %s; opening it beside the served %s", state.index_dir, target, state.served_dir)
        try:
            searcher = open_beside(target, state.searcher, state.settings)
        except Exception:
            logger.exception("could not open the switched-in index %s; still serving %s", target, state.served_dir)
            self._failed = target
            return False
        self._failed = None
        state.swap(searcher, target)
        logger.warning("now serving %s", target)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # the watcher must outlive any surprise (a vanished link, a full disk)
                logger.exception("index watcher: unexpected error; still serving %s", self.state.served_dir)
