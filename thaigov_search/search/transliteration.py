"""Thai words typed in Latin letters (``songkran``, ``khon kaen``, ``prayuth``) for "did you mean".

Each Thai index word is romanized once per index generation, syllable by syllable: PyThaiNLP's
syllable dictionary splits it (``เชียงใหม่`` -> ``เชียง`` ``ใหม่``) and the rules of its ``royin``
engine (offline, no model) romanize each syllable, after fixing what those rules misread: a silent
leading ห or อ (``ใหม่``, ``หนอง``, ``อย่าง``), a sounded leading ห (``หาด``) or อ (``อนุ``) that they
drop, a silent final ร (``เพชร``, ``จักร``). On a whole word ``royin`` runs syllables together
(``chianghaim``). The romanization and the typed text are reduced to one :func:`fold` key that
forgets what informal spellings change: case, spaces and hyphens (``Chan-o-cha``), aspiration
(``ph``/``p``, ``th``/``t``, ``kh``/``k``: ``Prayuth`` = ``prayut``), ``j``/``ch``, ``v``/``w``, ``d``/``t``
and doubled letters (``Pattaya``). A typed key matches a Thai word's key exactly, or less one
linking ``a`` that Thai does not write (``thammasat`` ~ ธรรมศาสตร์ "tham-sat"), or within
:func:`max_key_edits` (fewer edits win, then the longer shared beginning, then the commoner word).
Keys under :data:`MIN_KEY` letters are never matched: short syllables (``kan``, ``mai``, ``thai``)
are English words or abbreviations as often as Thai; ``ee``/``oo`` are not folded (``took``,
``soon``, ``seen`` would become Thai words). Measured on the 10k-release index: 0.7 s and ~5 MB
for its 17,561 Thai terms (docs/quality.md, issue #14).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pythainlp.tokenize import syllable_dict_trie, word_tokenize
from pythainlp.transliterate.royin import _romanize as royin_syllable  # (see _syllable)
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

MIN_KEY = 5  # letters of a folded key; shorter Latin text is never transliterated
_THAI = re.compile(r"[\u0e00-\u0e7f]")
_LATIN_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
_SILENT_LEAD = re.compile(r"^([เแโใไ]?)(?:ห(?=[งญนมยรลว])|อ(?=ย[ู่]|ยาก))")  # ใหม่ หนอง อย่าง อยู่
_LEAD_H = re.compile(r"^([เแโใไ]?)ห")  # royin drops it (หาด -> "at"); ฮ is the same sound
_LEAD_A = re.compile(r"^อ(?=[ก-ฮ][\u0e31\u0e34-\u0e39])")  # อนุ อภิ อยุธ: royin drops the "a"
_SILENT_FINAL_R = re.compile(r"((?:[\u0e31-\u0e3a\u0e47-\u0e4e]|[เแโใไ][ก-ฮ])[ก-ฮ])ร$")  # จักร เพชร, not นคร
_FOLD = [(re.compile(pattern), repl) for pattern, repl in (
    (r"[^a-z]", ""), (r"([ptk])h", r"\1"), (r"j", "ch"), (r"v", "w"), (r"d", "t"), (r"(.)\1+", r"\1"))]


def fold(text: str) -> str:
    """The matching key of Latin text: lower case, letters only, aspiration and doubled letters folded."""
    text = text.lower()
    for pattern, repl in _FOLD:
        text = pattern.sub(repl, text)
    return text


@lru_cache(maxsize=1 << 16)
def _syllable(syllable: str) -> str:
    """royin's rules for one syllable (its public ``romanize`` first re-segments the text with newmm's
    Python word dictionary: +71 MB resident, which the index's nlpo3 segmentation never loads)."""
    syllable = _SILENT_FINAL_R.sub(r"\1", _SILENT_LEAD.sub(r"\1", syllable))
    syllable = _LEAD_A.sub("อะ", _LEAD_H.sub(r"\1ฮ", syllable))
    return royin_syllable(syllable) if syllable else ""


def romanized_key(thai: str) -> str:
    """The :func:`fold` key of a Thai word's romanization (RTGS-like, syllable by syllable)."""
    syllables = word_tokenize(thai, custom_dict=syllable_dict_trie(), engine="newmm")
    return fold("".join(_syllable(s) for s in syllables))


def is_latin_word(chunk: str) -> bool:
    """Letters a-z only (hyphens between them): what may be a transliteration."""
    return _LATIN_WORD.fullmatch(chunk.lower()) is not None


def max_key_edits(key: str) -> int:
    """Edits allowed between a typed key and a romanized one: none under 8 letters (shorter English
    words are too often one edit from a Thai word: ``permit`` ~ เป็นมิตร, ``buying`` ~ ผู้หญิง)."""
    return 0 if len(key) < 8 else 1 if len(key) < 12 else 2


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


class Romanized:
    """Key -> the commonest Thai index word with that romanization."""

    def __init__(self, vocabulary: dict[str, int]):
        best: dict[str, tuple[str, int]] = {}
        for term, n in vocabulary.items():
            if len(term) < 2 or not _THAI.search(term):
                continue
            key = romanized_key(term)
            if len(key) >= MIN_KEY and n > best.get(key, ("", 0))[1]:
                best[key] = (term, n)
        self._best = best
        self._keys = list(best)

    def __len__(self) -> int:
        return len(self._keys)

    def match(self, latin: str) -> tuple[str, int] | None:
        """(Thai word, its documents) whose romanization ``latin`` spells, or None."""
        key = fold(latin)
        if len(key) < MIN_KEY:
            return None
        if key in self._best:
            return self._best[key]
        # a linking "a" that Thai leaves unwritten: thammasat ธรรมศาสตร์ (tham-sat), pattaya พัทยา
        linked = [self._best[k] for k in {key[:i] + key[i + 1:] for i, c in enumerate(key) if c == "a"}
                  if k in self._best]
        if linked:
            return max(linked, key=lambda hit: hit[1])
        found = process.extract(key, self._keys, scorer=Levenshtein.distance,
                                score_cutoff=max_key_edits(key), limit=10)
        if not found:
            return None
        # fewer edits, then the longer shared beginning (typists get it right), then the commoner word
        best_key = min(found, key=lambda hit: (hit[1], -_shared_prefix(key, hit[0]), -self._best[hit[0]][1]))[0]
        return self._best[best_key]


def transliterate(chunks: list[str], romanized: Romanized, docs: dict[str, int], ratio: int) -> list[str]:
    """``chunks`` with each run of 1-3 adjacent Latin words that spells a Thai index word replaced
    by it (longest run first) when the Thai word is in ``ratio`` times more articles than each word
    of the run (``docs``: the index's article counts); other chunks are kept as typed."""
    out: list[str] = []
    i = 0
    while i < len(chunks):
        replaced = False
        for n in (3, 2, 1):
            window = chunks[i:i + n]
            if len(window) < n or not all(is_latin_word(c) for c in window):
                continue
            hit = romanized.match("".join(window))
            if hit is None:
                continue
            word, word_docs = hit
            if all(word_docs >= ratio * (docs.get(t, 0) + 1) for c in window for t in c.lower().split("-")):
                out.append(word)
                i += n
                replaced = True
                break
        if not replaced:
            out.append(chunks[i])
            i += 1
    return out
