"""Snippets: the best-matching passage, cut at Thai word boundaries, matched words in <mark>.

Only a window around the first match is segmented into words, so a snippet costs the same for a
short passage and a long one.
"""

from __future__ import annotations

import html

from thaigov_search.core.thai_text import normalize_text, thai_words

SNIPPET_CHARS = 280
_CONTEXT_BEFORE = SNIPPET_CHARS // 4  # characters shown before the first match
_SLACK = 40  # extra characters segmented on each side, so the cut falls on a whole word


def term_hits(text: str, terms: set[str]) -> int:
    """How many distinct query terms occur in a passage (picks the snippet passage; substring test,
    so it needs no word segmentation)."""
    if not terms:
        return 0
    lowered = normalize_text(text).lower()
    return sum(1 for term in terms if term in lowered)


def _first_match(lowered: str, terms: set[str]) -> int:
    """Character offset of the earliest query term in the text (0 when none occurs)."""
    found = [pos for term in terms if (pos := lowered.find(term)) >= 0]
    return min(found) if found else 0


def make_snippet(text: str, terms: set[str], max_chars: int = SNIPPET_CHARS) -> str:
    """HTML-safe snippet around the first matched word, with every matched word marked."""
    normalized = normalize_text(text)
    first = _first_match(normalized.lower(), terms) if terms else 0
    lo = max(0, first - _CONTEXT_BEFORE - _SLACK)
    hi = min(len(normalized), lo + max_chars + _CONTEXT_BEFORE + 2 * _SLACK)
    words = thai_words(normalized[lo:hi])
    if lo > 0 and len(words) > 1:
        words = words[1:]  # may be a cut word
    if hi < len(normalized) and len(words) > 1:
        words = words[:-1]
    matched = [bool(terms) and bool(w.strip()) and w.strip().lower() in terms for w in words]
    first_word = next((i for i, m in enumerate(matched) if m), 0)
    # Start a little before the first match, on a word boundary.
    start, budget = first_word, _CONTEXT_BEFORE
    while start > 0 and budget - len(words[start - 1]) > 0:
        budget -= len(words[start - 1])
        start -= 1
    out, used, end = [], 0, start
    while end < len(words) and used + len(words[end]) <= max_chars:
        word = html.escape(words[end].replace("\n", " "))
        out.append(f"<mark>{word}</mark>" if matched[end] else word)
        used += len(words[end])
        end += 1
    prefix = "… " if start > 0 or lo > 0 else ""
    suffix = " …" if end < len(words) or hi < len(normalized) else ""
    return prefix + "".join(out).strip() + suffix


def snippet_passage(passages: list[tuple[int, str]], terms: set[str], best_pid: int | None) -> str:
    """The passage to show: the best dense passage, unless it lacks every query term and another has some."""
    if not passages:
        return ""
    chosen = next((t for p, t in passages if p == best_pid), None)
    if chosen is None or (terms and term_hits(chosen, terms) == 0):
        best_lexical = max((term_hits(t, terms), -i, t) for i, (_, t) in enumerate(passages))
        if chosen is None or best_lexical[0] > 0:
            chosen = best_lexical[2]
    return chosen
