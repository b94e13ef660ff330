"""The phrases of titles that search suggestions complete to (search/suggest.py answers from them).

Each title is normalised and cut into dictionary words (the index's segmentation, keeping spaces),
and every run of 1 to :data:`MAX_WORDS` words that starts and ends on a word becomes a phrase, shown
exactly as it appears in the title (Thai, Latin case, digits and B.E. years kept: ``COVID-19``,
``2561``). A phrase's weight is the number of titles holding it; phrases of two or more words must
occur in at least two titles. Phrases are kept sorted by a *key*: lower-cased with every space
removed, so a typed prefix matches whether or not the user typed the spaces, and a prefix that ends
inside a Thai word still matches the phrases that start with it (``เหลื่`` -> ``เหลื่อมล้ำ``).

Here in the core because both sides use it: the index store writes the phrases of a snapshot's
titles to ``suggest-<gen>.bin`` (store/suggestions.py), and the search side builds them in memory
for an index written before that file existed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from thaigov_search.core.thai_text import normalize_text, thai_words

MAX_WORDS = 4
MIN_TITLES_MULTIWORD = 2
_SPACE = re.compile(r"\s+")
_UNPAIRED = re.compile(r"[()\[\]{}“”\"«»]")  # brackets and quotes: a phrase cut through them reads badly
_WORDLIKE = re.compile(r"[0-9A-Za-z\u0e01-\u0e4e]")  # a phrase starts and ends on a letter or digit


class Phrases(NamedTuple):
    keys: list[str]  # sorted
    texts: list[str]  # display text per key
    weights: np.ndarray  # int32: titles holding the phrase, per key


def key_of(text: str) -> str:
    """The match key: normalised, lower-cased, every space removed."""
    return _SPACE.sub("", normalize_text(text).lower())


def title_phrases(titles: Iterable[str]) -> Phrases:
    """The phrases of ``titles`` (module doc), sorted by key."""
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
    return Phrases(keys, [best[k][1] for k in keys], np.array([best[k][0] for k in keys], dtype=np.int32))
