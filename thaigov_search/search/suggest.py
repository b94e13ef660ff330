"""Search suggestions as the user types: phrases that occur in the index's titles, completed from a prefix.

Built from the titles (:class:`Suggestions.build`): each title is normalised and cut into dictionary
words (the index's segmentation, keeping spaces), and every run of 1 to :data:`MAX_WORDS` words that
starts and ends on a word becomes a phrase, shown exactly as it appears in the title (Thai, Latin
case, digits and B.E. years kept: ``COVID-19``, ``2561``). A phrase's weight is the number of titles
holding it; phrases of two or more words must occur in at least two titles. Phrases are kept sorted
by a *key*: lower-cased with every space removed, so a typed prefix matches whether or not the user
typed the spaces, and a prefix that ends inside a Thai word still matches the phrases that start
with it (``เหลื่`` -> ``เหลื่อมล้ำ``).

Answering (:meth:`Suggestions.complete`): binary search for the key range of the typed prefix, then
the ``k`` heaviest phrases of the range by ``numpy.argpartition``: one bisect and one partial sort,
whatever the range's size. When no phrase starts with the whole typed text (a phrase of several
words typed further than any title goes), the typed text is cut at its word boundaries and the
longest tail that some phrase starts with is completed, the head kept as typed.

Memory and time at the full corpus (91,792 titles): see docs/performance.md (issue #14).
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from thaigov_search.core.thai_text import normalize_text, thai_words

logger = logging.getLogger(__name__)

MAX_WORDS = 4
MIN_TITLES_MULTIWORD = 2
_SPACE = re.compile(r"\s+")
_UNPAIRED = re.compile(r"[()\[\]{}“”\"«»]")  # brackets and quotes: a phrase cut through them reads badly
_WORDLIKE = re.compile(r"[0-9A-Za-z\u0e01-\u0e4e]")  # a phrase starts and ends on a letter or digit


def key_of(text: str) -> str:
    """The match key: normalised, lower-cased, every space removed."""
    return _SPACE.sub("", normalize_text(text).lower())


@dataclass
class Suggestions:
    keys: list[str]  # sorted
    texts: list[str]  # display text per key
    weights: np.ndarray  # titles holding the phrase, per key

    @classmethod
    def build(cls, titles: Iterable[str]) -> Suggestions:
        counts: Counter[str] = Counter()
        single: set[str] = set()  # one-word phrases (kept even when only one title holds them)
        for title in titles:
            found: set[str] = set()
            words: list[tuple[str, str, bool, bool]] = []  # (separator before, word, starts ok, ends ok)
            gap = ""
            for word in thai_words(normalize_text(title), keep_whitespace=True):
                if word.isspace():
                    gap = " "
                    continue
                words.append((gap, word, bool(_WORDLIKE.match(word)), bool(_WORDLIKE.match(word[-1]))))
                gap = ""
            for i, (_, first, starts, ends) in enumerate(words):
                if not starts:
                    continue
                text = first
                if ends:
                    found.add(text)
                    single.add(text)
                for gap, word, _, ends in words[i + 1:i + MAX_WORDS]:
                    text = text + gap + word
                    if ends:
                        found.add(text)
            counts.update(found)
        best: dict[str, tuple[int, str]] = {}  # key -> (titles, text): the commonest spelling wins
        for text, n in counts.items():
            if n < MIN_TITLES_MULTIWORD and text not in single:
                continue
            if _UNPAIRED.search(text):
                continue
            key = _SPACE.sub("", text.lower())  # key_of without normalising again: titles were normalised
            if not key:
                continue
            total, shown = best.get(key, (0, text))
            best[key] = (total + n, shown if counts.get(shown, 0) >= n else text)
        keys = sorted(best)
        return cls(keys, [best[k][1] for k in keys], np.array([best[k][0] for k in keys], dtype=np.int32))

    def __len__(self) -> int:
        return len(self.keys)

    def _range(self, key: str) -> tuple[int, int]:
        lo = bisect.bisect_left(self.keys, key)
        hi = bisect.bisect_left(self.keys, key + "\U0010ffff", lo)
        return lo, hi

    def _top(self, lo: int, hi: int, k: int) -> list[int]:
        weights = self.weights[lo:hi]
        if hi - lo > k:
            chosen = np.argpartition(-weights, k - 1)[:k]
        else:
            chosen = np.arange(hi - lo)
        # heaviest first; ties: the shorter (closer to what was typed), then alphabetical
        return sorted((lo + int(i) for i in chosen), key=lambda i: (-int(self.weights[i]), len(self.keys[i]), self.keys[i]))

    def complete(self, typed: str, k: int = 8) -> list[str]:
        """Up to ``k`` completions of ``typed``, heaviest first (module doc)."""
        key = key_of(typed)
        if not key or not self.keys:
            return []
        lo, hi = self._range(key)
        if hi > lo:
            return [self.texts[i] for i in self._top(lo, hi, k)]
        head_words = thai_words(normalize_text(typed), keep_whitespace=True)
        for cut in range(1, len(head_words)):
            tail = key_of("".join(head_words[cut:]))
            if not tail:
                continue
            lo, hi = self._range(tail)
            if hi > lo:
                head = "".join(head_words[:cut])
                return [head + self.texts[i] for i in self._top(lo, hi, k)]
        return []



class SuggestionCache:
    """The current :class:`Suggestions`, built in a background thread from the titles and rebuilt when
    the index's generation moves; until the first build ends, :meth:`get` waits at most ``wait_s``
    (a stale set is served while a newer one is built)."""

    def __init__(self, titles: Callable[[], list[str]]):
        self._titles = titles
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._current: Suggestions | None = None
        self._generation: int | None = None
        self._building: int | None = None

    def refresh(self, generation: int) -> None:
        """Start building for ``generation`` unless that is built or being built."""
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
