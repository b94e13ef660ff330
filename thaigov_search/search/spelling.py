""""Did you mean": a corrected query built from the index's own words, for a query that found nothing.

A misspelled Thai word (a wrong tone mark, a dropped or swapped letter: ``เศรฐกิจ``, ``ท่องเทียว``)
is not in the dictionary, so the word segmentation breaks it into fragments (``เศรฐ`` + ``กิจ``,
``ประ`` + ``ยุ`` + ``ท``) that match nothing useful. So: in each whitespace-separated chunk, a run of
*suspicious* tokens (absent from the index, held by fewer than :data:`MIN_DOCS` articles, or a
fragment of one or two Thai letters) is re-joined, with at most one neighbouring token on either
side, and the joined text is matched against the index vocabulary (terms in at least
:data:`MIN_DOCS` articles) by edit distance: at most 1 edit for up to 4 letters, 2 up to 8, 3
beyond; ties go to the more frequent term. The corrected query is offered only when it differs and
its words all occur in the index; :class:`~thaigov_search.search.searcher.Searcher` asks only when
the query has no lexical match at all (``matches`` of the result set is empty), so a query that
already finds releases is never "corrected".
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from thaigov_search.core.thai_text import normalize_text, tokenize_for_index

MIN_DOCS = 3
_THAI = re.compile(r"[\u0e00-\u0e7f]")


def max_edits(text: str) -> int:
    return 1 if len(text) <= 4 else 2 if len(text) <= 8 else 3


class Speller:
    """The vocabulary (terms in >= MIN_DOCS articles) loaded lazily, once per index generation."""

    def __init__(self):
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._terms: list[str] = []
        self._docs: dict[str, int] = {}

    def _vocabulary(self, generation: int, load: Callable[[int], dict[str, int]]) -> tuple[list[str], dict[str, int]]:
        with self._lock:
            if self._generation != generation:
                docs = {t: n for t, n in load(MIN_DOCS).items() if len(t) >= 2}
                self._docs, self._terms, self._generation = docs, list(docs), generation
            return self._terms, self._docs

    def correct(self, query: str, generation: int, load: Callable[[int], dict[str, int]]) -> str | None:
        """The corrected query, or None when nothing suspicious has a close enough index word."""
        terms, docs = self._vocabulary(generation, load)
        if not terms:
            return None
        changed = False
        chunks = []
        for chunk in normalize_text(query).split():
            tokens = tokenize_for_index(chunk)
            if "".join(tokens) != chunk.lower() or not _THAI.search(chunk):
                chunks.append(chunk)  # punctuation or Latin: left as typed
                continue
            fixed = self._correct_tokens(tokens, terms, docs)
            changed |= fixed != tokens
            chunks.append("".join(fixed))
        if not changed:
            return None
        corrected = " ".join(chunks)
        if any(docs.get(t, 0) == 0 and len(t) > 2 for t in tokenize_for_index(corrected)):
            return None
        return corrected

    @staticmethod
    def _suspicious(token: str, docs: dict[str, int]) -> bool:
        return docs.get(token, 0) < MIN_DOCS or (len(token) <= 2 and bool(_THAI.search(token)))

    def _correct_tokens(self, tokens: list[str], terms: list[str], docs: dict[str, int]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(tokens):
            if not self._suspicious(tokens[i], docs):
                out.append(tokens[i])
                i += 1
                continue
            j = i
            while j + 1 < len(tokens) and self._suspicious(tokens[j + 1], docs):
                j += 1
            best = None  # (edits, -docs, start, end, word)
            for start in (i - 1, i):
                for end in (j + 1, j + 2):
                    if start < 0 or end > len(tokens) or (start < i and (not out or out[-1] != tokens[start])):
                        continue
                    text = "".join(tokens[start:end])
                    if len(text) < 3:
                        continue
                    limit = max_edits(text)
                    for word, edits, _ in process.extract(text, terms, scorer=Levenshtein.distance,
                                                          score_cutoff=limit, limit=5):
                        if word == text:
                            continue
                        key = (edits, -docs[word], start, end, word)
                        if best is None or key < best:
                            best = key
            if best is None:
                out.extend(tokens[i:j + 1])
                i = j + 1
                continue
            _, _, start, end, word = best
            if start < i:
                out.pop()
            out.append(word)
            i = end
        return out
