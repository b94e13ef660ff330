"""Thai text helpers shared by the write path (indexing) and the read path (queries).

Everything here is deterministic and offline: only what ships inside the PyThaiNLP wheel is used
(the ``newmm`` dictionary tokenizer and the rule-based normalisers); nothing is downloaded.

* :func:`normalize_text` -- canonical form of a text (documents, titles and queries alike).
* :func:`tokenize_for_index` -- BM25 terms; the same function must be used for documents and queries.
* :func:`split_sentences` -- Thai-aware sentence/clause split that never loses text.

Sentence splitting note: PyThaiNLP's ``crfcut`` sentence segmenter needs ``python-crfsuite``,
which is not installed (its model file is bundled, the runtime is not), and it runs the word
tokenizer first, so it would cost at least as much as tokenising the whole corpus again. Thai
marks sentence and clause ends with a space, so a space between two Thai characters is used as
the boundary instead (plus ``. ! ?`` for English), with short pieces merged.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

from pythainlp import (
    thai_above_vowels,
    thai_below_vowels,
    thai_follow_vowels,
    thai_lead_vowels,
    thai_tonemarks,
)
from pythainlp.tokenize import word_tokenize
from pythainlp.util import remove_dangling, remove_repeat_vowels, remove_spaces_before_marks

log = logging.getLogger(__name__)

__all__ = ["normalize_text", "tokenize_for_index", "split_sentences", "thai_latin_counts"]

# --------------------------------------------------------------------------- normalisation

_THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙"


def _build_translate_table() -> dict[int, int | str | None]:
    table: dict[int, int | str | None] = {}
    for i, ch in enumerate(_THAI_DIGITS):
        table[ord(ch)] = str(i)
    # invisible / formatting characters: zero-width space/joiners, word joiner, BOM, soft hyphen,
    # bidi marks and embeddings
    for cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0x200E, 0x200F, *range(0x202A, 0x202F)):
        table[cp] = None
    # control characters (C0 except \t \n, DEL, C1); \r is handled before translation
    for cp in [*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0)]:
        table[cp] = None
    table[0x0B] = "\n"  # vertical tab
    table[0x0C] = "\n"  # form feed: page break -> paragraph break
    table[0x85] = "\n"  # next line (C1)
    table[0x09] = " "
    # other horizontal spaces (NBSP is very common in this corpus) -> plain space
    for cp in (0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000):
        table[cp] = " "
    table[0x2028] = "\n"  # line separator
    table[0x2029] = "\n"  # paragraph separator
    return table


_TRANSLATE = _build_translate_table()
# characters the translation table changes (checked first: most texts need no translation)
_RE_NEEDS_TRANSLATE = re.compile(
    "[" + "".join(re.escape(chr(cp)) for cp in sorted(_TRANSLATE) if cp != 0x09) + "]"
)
_RE_THAI = re.compile(r"[\u0e00-\u0e7f]")
_RE_MULTI_SPACE = re.compile(r"  +")  # other horizontal whitespace is translated to " " first
_RE_SPACE_AROUND_NL = re.compile(r" \n ?|\n ")


def _build_nfkc_trigger() -> re.Pattern[str]:
    """Characters whose presence means NFKC could change the text (SARA AM excepted).

    Thai text is almost never NFKC-stable because of SARA AM, so the cheap ``is_normalized``
    check does not help; this class lets clean Thai text skip the NFKC pass entirely.
    """
    ranges: list[tuple[int, int]] = []
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF or cp == 0x0E33:
            continue
        ch = chr(cp)
        changes = unicodedata.normalize("NFKC", ch) != ch
        composes = unicodedata.combining(ch) != 0 and not 0x0E00 <= cp <= 0x0E7F
        if changes or composes or 0x1100 <= cp <= 0x11FF:  # Hangul jamo compose too
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    body = "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges)
    return re.compile(f"[{body}\U00010000-\U0010ffff]")


_RE_NFKC_TRIGGER = _build_nfkc_trigger()
_RE_SPACE_BEFORE_MARK = re.compile(
    f"(?:^| )[{thai_above_vowels}{thai_below_vowels}{thai_tonemarks}\u0e3a\u0e4c\u0e4d\u0e4e]"
)
_RE_MANY_NL = re.compile(r"\n{3,}")

# pythainlp.util.remove_repeat_vowels runs ~25 regex passes (plus a Python callback per tone
# mark), which dominates parsing time. It only changes a line that contains one of the
# patterns below (its reorder rules, a repeated vowel/sign, or repeated tone marks; none of its
# rules cross a newline), so it is applied to those lines only -- same output, ~10x faster.
_NOREPEAT = (
    f"{thai_follow_vowels}{thai_lead_vowels}{thai_above_vowels}{thai_below_vowels}\u0e3a\u0e4c\u0e4d\u0e4e"
)
_RE_NEEDS_VOWEL_FIX = re.compile(
    "\u0e40\u0e40"  # เเ -> แ
    f"|[{thai_tonemarks}\u0e4c][{thai_above_vowels}{thai_below_vowels}]"  # tone before vowel
    f"|\u0e4d[{thai_tonemarks}]*\u0e32"  # ํา -> ำ
    f"|[{thai_follow_vowels}][{thai_tonemarks}]"  # follow vowel before tone
    "|\u0e45"  # lakkhangyao
    f"|([{_NOREPEAT}])[ ]*\\1"  # repeated vowel/sign
    f"|[{thai_tonemarks}]{{2,}}"  # repeated tone marks
)


def _fix_thai_vowels(text: str) -> str:
    """``pythainlp.util.remove_repeat_vowels`` on the lines that need it."""
    if not _RE_NEEDS_VOWEL_FIX.search(text):
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _RE_NEEDS_VOWEL_FIX.search(line):
            lines[i] = remove_repeat_vowels(line)
    return "\n".join(lines)


def normalize_text(text: str) -> str:
    """Return the canonical form of ``text``.

    Thai digits become Arabic digits, invisible characters (zero-width space/joiners, BOM, soft
    hyphen, bidi marks) and control characters are removed, the text is NFKC-normalised (SARA AM,
    which NFKC decomposes, is recomposed), PyThaiNLP fixes doubled/misordered vowels and tone
    marks (``remove_spaces_before_marks``, ``remove_repeat_vowels``, ``remove_dangling`` -- the
    steps of ``pythainlp.util.normalize`` except its newline squashing), spaces and tabs collapse
    to one space, lines are stripped, and newlines are kept as paragraph breaks (at most one
    blank line in a row).
    """
    if not text:
        return ""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in text or _RE_NEEDS_TRANSLATE.search(text):
        text = text.translate(_TRANSLATE)
    if _RE_NFKC_TRIGGER.search(text):
        # NFKC: full-width Latin/digits, NBSP and exotic spaces, ligatures; it decomposes
        # SARA AM (U+0E33) into NIKHAHIT + SARA AA, which is recomposed right away.
        text = unicodedata.normalize("NFKC", text).replace("\u0e4d\u0e32", "\u0e33")
    if "  " in text:
        text = _RE_MULTI_SPACE.sub(" ", text)
    if _RE_THAI.search(text):
        if _RE_SPACE_BEFORE_MARK.search(text):  # both rules need a mark after a space/start
            text = remove_spaces_before_marks(text)
            text = _fix_thai_vowels(text)
            text = remove_dangling(text)
        else:
            text = _fix_thai_vowels(text)
    text = _RE_SPACE_AROUND_NL.sub("\n", text)
    if "\n\n\n" in text:
        text = _RE_MANY_NL.sub("\n\n", text)
    return text.strip()


_RE_THAI_RUN = re.compile(r"[\u0e01-\u0e2e\u0e30-\u0e3a\u0e40-\u0e4e]+")
_RE_LATIN_RUN = re.compile(r"[A-Za-z]+")


def thai_latin_counts(text: str, max_chars: int = 4000) -> tuple[int, int]:
    """Count Thai characters and Latin letters in (the first ``max_chars`` of) ``text``."""
    if max_chars and len(text) > max_chars:
        text = text[:max_chars]
    return sum(map(len, _RE_THAI_RUN.findall(text))), sum(map(len, _RE_LATIN_RUN.findall(text)))


# --------------------------------------------------------------------------- index tokens

# A term is a run of Thai letters/marks, a number (1,200 / 2.5 / 09.00), or a run of other letters.
# Thai punctuation-like signs (ๆ ฯ ๏ ๚ ๛) and all punctuation/symbols are not terms.
_RE_TERM = re.compile(
    r"[\u0e01-\u0e2e\u0e30-\u0e3a\u0e40-\u0e45\u0e47-\u0e4e]+"
    r"|\d+(?:[.,]\d+)*"
    r"|[^\W\d_\u0e00-\u0e7f]+"
)


WORD_ENGINE = "nlpo3"
"""PyThaiNLP's Rust port of newmm: same dictionary and algorithm, about 7x faster. On 36,503
whitespace chunks of real releases its terms differed from newmm's on 40 (rare abbreviations
such as ``สส.ว.``). Index and queries both use it, so they always agree."""


def thai_words(text: str, keep_whitespace: bool = True) -> list[str]:
    """Dictionary word segmentation; with ``keep_whitespace`` the words concatenate back to ``text``."""
    return word_tokenize(text, engine=WORD_ENGINE, keep_whitespace=keep_whitespace)


@lru_cache(maxsize=200_000)
def _chunk_terms(chunk: str) -> tuple[str, ...]:
    """Terms of one whitespace-free, normalised, lower-cased chunk (cached: chunks repeat a lot)."""
    if chunk.isascii():
        words = [chunk]  # newmm would only split non-Thai text at character-class changes
    else:
        words = thai_words(chunk, keep_whitespace=False)
    terms = _RE_TERM.findall(" ".join(words))
    return tuple(t.replace(",", "") if "," in t else t for t in terms)


def tokenize_for_index(text: str) -> list[str]:
    """BM25 terms of ``text``: normalise, dictionary words (:data:`WORD_ENGINE`), Latin lower-cased, punctuation dropped.

    Numbers stay terms (thousands separators removed: ``1,200`` -> ``1200``); mixed tokens are cut
    at script changes (``COVID-19`` -> ``covid``, ``19``). Use the same function for documents and
    queries. Tokenising whitespace-separated chunks separately gives the same words as tokenising
    the whole text (newmm never joins across a space) and lets repeated chunks hit a cache.
    """
    text = normalize_text(text)
    if not text:
        return []
    out: list[str] = []
    for chunk in text.lower().split():
        out.extend(_chunk_terms(chunk))
    return out


# --------------------------------------------------------------------------- sentences

# Words after which a space does not end a clause (titles, ranks, honorifics before a name).
_NO_BREAK_AFTER = frozenset(
    "นาย นาง นางสาว น.ส. ดร. พลเอก พลโท พลตรี พลเรือเอก พลเรือโท พลเรือตรี พลอากาศเอก พลอากาศโท "
    "พลอากาศตรี พลตำรวจเอก พลตำรวจโท พลตำรวจตรี พล.อ. พล.ท. พล.ต. พล.ร.อ. พล.อ.อ. พล.ต.อ. พล.ต.ท. "
    "พล.ต.ต. พันเอก พันโท พันตรี พ.อ. พ.ท. พ.ต. ร้อยเอก ร้อยโท ร้อยตรี ร.อ. ร.ท. ร.ต. พันตำรวจเอก "
    "พ.ต.อ. พ.ต.ท. พ.ต.ต. ศาสตราจารย์ รองศาสตราจารย์ ผู้ช่วยศาสตราจารย์ ศ. รศ. ผศ. นพ. พญ. ทพ. "
    "ทพญ. ภก. ภญ. คุณ ม.ร.ว. ม.ล. หม่อมราชวงศ์ หม่อมหลวง ท่าน เรือเอก เรือโท เรือตรี จ่าสิบเอก "
    "สิบเอก ว่าที่ ดาบตำรวจ".split()
)
_ENGLISH_ABBREV = frozenset(
    "mr mrs ms dr gen lt col maj capt cpt sgt pol adm prof assoc asst st no nos jr sr vs etc "
    "co ltd inc gov sen rep hon h.e mt ft fig dept approx est e.g i.e u.s u.k rev govt".split()
)

# A candidate boundary is a whitespace run (no newline: paragraphs are split first) that
#  * sits between two Thai characters (Thai ends sentences/clauses with a space), the next one not
#    being a repetition/abbreviation sign (ๆ ฯ), or
#  * follows . ! ? (optionally closing quotes/brackets) and precedes an upper-case letter, digit,
#    opening quote/bracket or Thai letter (English sentences).
_RE_BOUNDARY = re.compile(
    r"(?<=[\u0e01-\u0e2e\u0e30-\u0e3a\u0e40-\u0e4e\u0e46\u0e2f])[ \t]+(?=[\u0e01-\u0e2e\u0e40-\u0e44])"
    r"|(?<=[.!?])(?:[\"'”’)\]]*)[ \t]+(?=[\"“‘(\[]?[A-Z0-9\u0e01-\u0e2e\u0e40-\u0e44])"
)


def _is_protected(para: str, cut: int) -> bool:
    """True when the space at ``cut`` follows a title/honorific or an English abbreviation."""
    word = para[para.rfind(" ", 0, cut) + 1 : cut]  # the word just before the space
    if not word:
        return False
    if word in _NO_BREAK_AFTER:
        return True
    if word.endswith((".", "!", "?")) or word[-1:] in "\"'”’)]":
        w = word.rstrip("\"'”’)]").rstrip(".").lower().lstrip("(\"'“‘[")
        if w in _ENGLISH_ABBREV or (len(w) == 1 and w.isalpha()):
            return True
    return False


def _split_paragraph(para: str, min_chars: int) -> list[str]:
    spans: list[tuple[int, int]] = []  # (start, end) of each piece in ``para``
    start = 0
    for m in _RE_BOUNDARY.finditer(para):
        cut = m.start()
        if cut - start < min_chars:
            continue  # too short: keep growing this piece
        if _is_protected(para, cut):
            continue
        # The English rule's match may start with closing quotes/brackets: keep them in the piece.
        sep = m.group(0)
        end = cut + len(sep) - len(sep.lstrip("\"'”’)]"))
        spans.append((start, end))
        start = m.end()
    if spans and len(para) - start < min_chars // 2:
        spans[-1] = (spans[-1][0], len(para))  # a very short tail joins the previous piece
    else:
        spans.append((start, len(para)))
    return [piece for a, b in spans if (piece := para[a:b].strip())]


def split_sentences(text: str, min_chars: int = 40) -> list[str]:
    """Split ``text`` into sentences/clauses, never losing text.

    Paragraph breaks (newlines) always split. Inside a paragraph, a space between Thai characters
    or after ``. ! ?`` before a capital ends a piece, unless it follows a title (``นาย``, ``พลเอก``)
    or an English abbreviation (``Mr.``, ``Gen.``), and pieces shorter than ``min_chars`` grow
    until the next boundary. The pieces are stripped substrings of ``text`` in order; only
    whitespace between them is dropped.
    """
    out: list[str] = []
    for para in text.split("\n"):
        if not para.strip():
            continue
        if len(para) <= min_chars:
            out.append(para.strip())
        else:
            out.extend(_split_paragraph(para, min_chars))
    return out
