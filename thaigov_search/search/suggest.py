"""Search suggestions as the user types: phrases that occur in the index's titles, completed from a prefix.

The phrases (core/title_phrases.py: 1 to 4 title words, shown as the title writes them, weighted by
the titles holding them, sorted by a key that is lower-cased with every space removed) are written
by the indexer with each snapshot (``suggest-<gen>.bin``, store/suggestions.py) and mapped here, so
every server process shares one copy and builds nothing. For an index written before that file
existed they are built in memory in a background thread (:class:`SuggestionCache`) until its next
``index`` run writes one.

Answering (:meth:`Suggestions.complete`): binary search for the key range of the typed prefix, then
the ``k`` heaviest phrases of the range by ``numpy.argpartition``: one bisect and one partial sort,
whatever the range's size. When no phrase starts with the whole typed text (a phrase of several
words typed further than any title goes), the typed text is cut at its word boundaries and the
longest tail that some phrase starts with is completed, the head kept as typed.

Memory and time at the full corpus (91,792 titles): see docs/performance.md (issue #14).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from thaigov_search.core.thai_text import normalize_text, thai_words
from thaigov_search.core.title_phrases import key_of, title_phrases
from thaigov_search.store.schema import IndexCorruptError
from thaigov_search.store.suggestions import PhraseTable, phrase_table

logger = logging.getLogger(__name__)


@dataclass
class Suggestions:
    table: PhraseTable

    @classmethod
    def build(cls, titles: Iterable[str]) -> Suggestions:
        """In memory, from ``titles`` (an index without a suggestion file; tests, benchmarks)."""
        return cls(phrase_table(title_phrases(titles)))

    def __len__(self) -> int:
        return len(self.table)

    def _top(self, lo: int, hi: int, k: int) -> list[int]:
        weights = self.table.weights[lo:hi]
        if hi - lo > k:
            chosen = np.argpartition(-weights, k - 1)[:k]
        else:
            chosen = np.arange(hi - lo)
        keys = {lo + int(i): self.table.keys[lo + int(i)] for i in chosen}
        # heaviest first; ties: the shorter (closer to what was typed), then alphabetical
        return sorted(keys, key=lambda i: (-int(self.table.weights[i]), len(keys[i]), keys[i]))

    def complete(self, typed: str, k: int = 8) -> list[str]:
        """Up to ``k`` completions of ``typed``, heaviest first (module doc)."""
        key = key_of(typed)
        if not key or not len(self.table):
            return []
        texts = self.table.texts
        lo, hi = self.table.keys.prefix_range(key)
        if hi > lo:
            return [texts[i] for i in self._top(lo, hi, k)]
        head_words = thai_words(normalize_text(typed), keep_whitespace=True)
        for cut in range(1, len(head_words)):
            tail = key_of("".join(head_words[cut:]))
            if not tail:
                continue
            lo, hi = self.table.keys.prefix_range(tail)
            if hi > lo:
                head = "".join(head_words[:cut])
                return [head + texts[i] for i in self._top(lo, hi, k)]
        return []



class SuggestionCache:
    """The current :class:`Suggestions`: the phrases of the newest snapshot file when the index has one
    (looked for again whenever the index's generation moves), else built in a background thread from
    the titles and rebuilt when the generation moves; until the first build ends, :meth:`get` waits
    at most ``wait_s`` (a stale set is served while a newer one is built)."""

    def __init__(self, titles: Callable[[], list[str]], mapped: Callable[[], PhraseTable | None]):
        self._titles = titles
        self._mapped = mapped
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._current: Suggestions | None = None
        self._generation: int | None = None
        self._building: int | None = None
        self._looked: int | None = None  # the generation a snapshot file was last looked for at
        self._table: PhraseTable | None = None  # the mapped phrases in use

    def _snapshot_file(self, generation: int) -> bool:
        """Use the newest snapshot's phrases file if there is one (looked for once per generation)."""
        with self._lock:
            if self._looked == generation:
                return self._table is not None
            self._looked = generation
        try:
            table = self._mapped()
        except (IndexCorruptError, OSError):  # keep what is served; the index check reports the file
            logger.exception("could not map the suggestion phrases of the newest snapshot")
            table = None
        with self._lock:
            if table is not None and table is not self._table:
                self._table, self._current, self._generation = table, Suggestions(table), generation
                self._ready.set()
            return self._table is not None

    def refresh(self, generation: int) -> None:
        """Map the newest snapshot's phrases, or start building for ``generation`` unless that is built
        or being built."""
        if self._snapshot_file(generation):
            return
        with self._lock:
            if generation in (self._generation, self._building):
                return
            self._building = generation
        threading.Thread(target=self._build, args=(generation,), name="suggestions", daemon=True).start()

    def _build(self, generation: int) -> None:
        try:
            started = time.perf_counter()
            built = Suggestions.build(self._titles())
            logger.info("suggestions: %d phrases built in %.1f s", len(built), time.perf_counter() - started)
            with self._lock:
                if self._table is None:  # a snapshot file found meanwhile wins
                    self._current, self._generation = built, generation
        except Exception:
            logger.exception("could not build the search suggestions")
        finally:
            with self._lock:
                if self._building == generation:
                    self._building = None
            self._ready.set()

    def get(self, generation: int, wait_s: float) -> Suggestions | None:
        self.refresh(generation)
        if not self._ready.is_set():
            self._ready.wait(wait_s)
        return self._current
