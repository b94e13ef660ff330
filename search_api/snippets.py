"""Snippets: the best-matching passage, cut at Thai word boundaries, matched words in <mark>."""

from __future__ import annotations

import html

from pythainlp.tokenize import word_tokenize

from indexer.thai_text import normalize_text, tokenize_for_index

SNIPPET_CHARS = 280


def term_hits(text: str, terms: set[str]) -> int:
    """How many distinct query terms a passage contains (used to pick the snippet passage)."""
    return len(terms & set(tokenize_for_index(text)))


def make_snippet(text: str, terms: set[str], max_chars: int = SNIPPET_CHARS) -> str:
    """HTML-safe snippet around the first matched word, with every matched word marked."""
    words = word_tokenize(normalize_text(text), engine="newmm", keep_whitespace=True)
    matched = [bool(terms) and w.strip().lower() in terms and bool(w.strip()) for w in words]
    first = next((i for i, m in enumerate(matched) if m), 0)
    # Start a little before the first match, on a word boundary.
    start, budget = first, max_chars // 4
    while start > 0 and budget - len(words[start - 1]) > 0:
        budget -= len(words[start - 1])
        start -= 1
    out, used, end = [], 0, start
    while end < len(words) and used + len(words[end]) <= max_chars:
        word = html.escape(words[end].replace("\n", " "))
        out.append(f"<mark>{word}</mark>" if matched[end] else word)
        used += len(words[end])
        end += 1
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(words) else ""
    return prefix + "".join(out).strip() + suffix
