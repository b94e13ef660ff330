""""Did you mean": a corrected query built from the index's own words, for a query that found nothing.

A misspelled Thai word (a wrong tone mark, a dropped or swapped letter: ``เศรฐกิจ``, ``ท่องเทียว``)
is not in the dictionary, so the word segmentation breaks it into fragments (``เศรฐ`` + ``กิจ``,
``ประ`` + ``ยุ`` + ``ท``) that match nothing useful. So: in each whitespace-separated chunk, a run of
*suspicious* tokens (rare: in fewer than max(:data:`MIN_DOCS`, articles / 1000) articles; a
fragment of one or two Thai letters; or a word whose tone-mark-free :func:`skeleton` belongs to a
:data:`FREQUENCY_RATIO` times commoner word) is re-joined, with at most one neighbouring token on either
side, and the joined text is matched against the index vocabulary (terms in at least
:data:`MIN_DOCS` articles) by edit distance: at most 1 edit for up to 4 letters, 2 up to 8, 3
beyond; the word must be :data:`FREQUENCY_RATIO` times commoner than the joined text itself (a
rare real word is not "corrected" to a common neighbour unless it is itself almost unused); fewer
edits win, then the commoner word. A query of ordinary words has no suspicious token and is never
touched. :class:`~thaigov_search.search.searcher.Searcher` then offers the correction only when it
finds more than the query does (a larger lexical result set), so a query that already has the
matches the correction would have is never "corrected".

A Thai word typed in Latin letters (``songkran``, ``khon kaen``, ``chiang mai``) is matched by
romanization (:mod:`thaigov_search.search.transliteration`): a run of 1-3 adjacent Latin words that
spells an index word is replaced by it when that word is in :data:`FREQUENCY_RATIO` times more
articles than each Latin word (so an English word the index holds, ``cabinet``, ``phuket`` in 47
articles against ภูเก็ต's 289, is kept), and the Searcher offers such a correction only when it
matches FREQUENCY_RATIO times more releases than the query (an English query with matches is
left alone). The romanized vocabulary is built on the first Latin query, or by :meth:`Speller.warm`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from thaigov_search.core.thai_text import normalize_text, tokenize_for_index
from thaigov_search.search.transliteration import Romanized, is_latin_word, transliterate

MIN_DOCS = 3
FREQUENCY_RATIO = 10  # a correction must be this many times commoner than the text it replaces
_THAI = re.compile(r"[\u0e00-\u0e7f]")


class Correction(NamedTuple):
    text: str
    transliterated: bool  # Latin words were replaced by Thai ones (search.transliteration)


_MARKS = str.maketrans("", "", "\u0e31\u0e47\u0e48\u0e49\u0e4a\u0e4b\u0e4c\u0e4d")


def skeleton(text: str) -> str:
    """The text without tone marks, thanthakhat and the short vowel marks typed by the same key
    row (ั ็ ่ ้ ๊ ๋ ์ ํ): a wrong or missing tone mark costs no edit, ``ท่องเทียว`` ~ ``ท่องเที่ยว``."""
    return text.translate(_MARKS)


def max_edits(text: str) -> int:
    return 1 if len(text) <= 4 else 2 if len(text) <= 8 else 3


class Speller:
    """The vocabulary (terms in >= MIN_DOCS articles) loaded lazily, once per index generation."""

    def __init__(self):
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._terms: list[str] = []
        self._docs: dict[str, int] = {}
        self._romanized: tuple[int, Romanized] | None = None

    def _vocabulary(self, generation: int, load: Callable[[int], dict[str, int]]) -> tuple[list[str], dict[str, int]]:
        """(skeletons, skeleton -> its commonest word's documents); words kept in ``self._word``."""
        with self._lock:
            if self._generation != generation:
                word: dict[str, str] = {}
                docs: dict[str, int] = {}
                raw = load(MIN_DOCS)
                for term, n in raw.items():
                    if len(term) < 2:
                        continue
                    key = skeleton(term)
                    if n > docs.get(key, 0):
                        word[key], docs[key] = term, n
                self._raw = raw
                self._word, self._docs, self._terms, self._generation = word, docs, list(docs), generation
            return self._terms, self._docs

    def _romanizations(self, generation: int, load: Callable[[int], dict[str, int]]) -> Romanized:
        """The vocabulary's Thai words by romanization (search.transliteration), built on first need."""
        self._vocabulary(generation, load)
        with self._lock:
            if self._romanized is None or self._romanized[0] != generation:
                self._romanized = (generation, Romanized(self._raw))
            return self._romanized[1]

    def warm(self, generation: int, load: Callable[[int], dict[str, int]]) -> None:
        """Load the vocabulary and romanize it now (the service does it in the background once ready)."""
        self._romanizations(generation, load)

    def correct(self, query: str, generation: int, load: Callable[[int], dict[str, int]],
                n_articles: int = 0) -> Correction | None:
        """The corrected query, or None when nothing suspicious has a close enough index word."""
        terms, docs = self._vocabulary(generation, load)
        if not terms:
            return None
        words = self._word
        self._rare = max(MIN_DOCS, n_articles // 1000)
        changed = transliterated = False
        chunks = []
        for chunk in normalize_text(query).split():
            tokens = tokenize_for_index(chunk)
            if "".join(tokens) != chunk.lower() or not _THAI.search(chunk):
                chunks.append(chunk)  # punctuation or Latin: left as typed (Latin words: below)
                continue
            fixed = self._correct_tokens(tokens, terms, docs, words)
            changed |= fixed != tokens
            chunks.append("".join(fixed))
        if any(is_latin_word(chunk) for chunk in chunks):
            thai = transliterate(chunks, self._romanizations(generation, load), self._raw, FREQUENCY_RATIO)
            transliterated = thai != chunks
            changed |= transliterated
            chunks = thai
        if not changed:
            return None
        corrected = " ".join(chunks)
        if any(docs.get(skeleton(t), 0) == 0 and len(t) > 2 for t in tokenize_for_index(corrected)):
            return None
        return Correction(corrected, transliterated)

    def _suspects(self, tokens: list[str], docs: dict[str, int], rare: int) -> list[bool]:
        """Per token: rare, or a spelling of a skeleton whose commonest word is far commoner (a wrong
        tone mark), or a Thai fragment of one or two letters next to another fragment or a suspect
        (the pieces segmentation leaves of an unknown word; a lone short word such as ปี is fine)."""
        base = []
        for token in tokens:
            own = self._raw.get(token, 0)
            base.append(own < rare or docs.get(skeleton(token), 0) >= FREQUENCY_RATIO * (own + 1))
        short = [len(t) <= 2 and bool(_THAI.search(t)) for t in tokens]
        out = list(base)
        for i in range(len(tokens)):
            if short[i]:
                neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(tokens)]
                out[i] = out[i] or any(short[j] or base[j] for j in neighbours)
        return out

    def _correct_tokens(self, tokens: list[str], terms: list[str], docs: dict[str, int],
                        words: dict[str, str]) -> list[str]:
        suspect = self._suspects(tokens, docs, self._rare)
        out: list[str] = []
        i = 0
        while i < len(tokens):
            if not suspect[i]:
                out.append(tokens[i])
                i += 1
                continue
            j = i
            while j + 1 < len(tokens) and suspect[j + 1]:
                j += 1
            best = None  # (edits, -window length, -docs, start, end, word)
            for start in (i - 1, i):
                for end in (j + 1, j + 2):
                    if start < 0 or end > len(tokens) or (start < i and (not out or out[-1] != tokens[start])):
                        continue
                    text = "".join(tokens[start:end])
                    bare = skeleton(text)
                    if len(bare) < 3:
                        continue
                    floor = FREQUENCY_RATIO * (self._raw.get(text, 0) + 1)
                    for key_text, edits, _ in process.extract(bare, terms, scorer=Levenshtein.distance,
                                                              score_cutoff=max_edits(bare), limit=10):
                        word = words[key_text]
                        if word == text or docs[key_text] < floor:
                            continue
                        key = (edits, start - end, -docs[key_text], start, end, word)
                        if best is None or key < best:
                            best = key
            if best is None:
                out.extend(tokens[i:j + 1])
                i = j + 1
                continue
            _, _, _, start, end, word = best
            if start < i:
                out.pop()
            out.append(word)
            i = end
        return out
