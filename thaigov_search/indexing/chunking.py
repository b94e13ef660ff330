"""Articles -> passages that fit the embedding model's token budget.

Each passage is embedded as ``f"{title}\\n{passage text}"`` (the title gives context) and must
fit ``max_tokens`` *including* that title prefix. Passages follow sentence boundaries
(:func:`thaigov_search.core.thai_text.split_sentences`); a sentence longer than the budget is cut at
dictionary word boundaries.

``count_tokens`` is the real tokenizer of the embedding model (or any deterministic counter).
To keep chunking linear, every sentence is counted once and a passage's size is estimated as the
sum of its parts plus a small margin; the final ``count_tokens(embed_text)`` of each passage (which
fills ``Passage.n_tokens``) checks the estimate, and the rare passage that still overflows is split
again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from thaigov_search.core.article import Article, Passage
from thaigov_search.core.thai_text import split_sentences, thai_words

log = logging.getLogger(__name__)

__all__ = ["chunk_article"]


@dataclass
class _Unit:
    """A piece of body text (a sentence or part of one) with its token count."""

    text: str
    sep: str  # what joins it to the previous unit: "\n" (new paragraph), " " (sentence) or ""
    tokens: int  # tokens of ``text`` alone, special tokens excluded


def _margin(max_tokens: int) -> int:
    """Safety margin for the sum-of-parts estimate (joins can merge or add a token or two)."""
    return max(2, max_tokens // 64)


def _split_long(text: str, budget: int, count: Callable[[str], int]) -> list[_Unit]:
    """Cut ``text`` (one over-long sentence) into pieces of at most ``budget`` tokens at word
    boundaries; the pieces concatenate back to ``text`` exactly."""
    words = thai_words(text)
    pieces: list[_Unit] = []

    def emit(ws: list[str]) -> None:
        piece = "".join(ws)
        if not piece.strip():
            if pieces:  # whitespace only: keep it with the previous piece
                pieces[-1].text += piece
            return
        n = count(piece)
        if n <= budget or len(piece) == 1:
            pieces.append(_Unit(piece, "", n))
            return
        if len(ws) == 1:  # one huge "word" (a URL, a long number): cut by characters
            ws = list(piece)
        mid = len(ws) // 2
        emit(ws[:mid])
        emit(ws[mid:])

    # first guess: pack words by characters using the sentence's tokens-per-character ratio
    total = max(1, count(text))
    chars_per_piece = max(1, int(len(text) * budget / total * 0.9))
    group: list[str] = []
    size = 0
    for w in words:
        if group and size + len(w) > chars_per_piece:
            emit(group)
            group, size = [], 0
        group.append(w)
        size += len(w)
    if group:
        emit(group)
    # leading/trailing spaces belong to no piece
    out = [_Unit(p.text.strip(), p.sep, p.tokens) for p in pieces if p.text.strip()]
    return out


class _Sizer:
    """Token counts for sentences: exact (the model's tokenizer) until ``exact`` is switched off,
    then a characters-based estimate calibrated on the exact counts seen so far.

    Only passages that get embedded need exact sizes; the rest of a long article is stored for
    snippets and lexical matches, so estimating it keeps chunking cheap (tokenizing is most of
    the chunking time).
    """

    def __init__(self, count: Callable[[str], int]):
        self.count = count
        self.exact = True
        self._tokens = 0
        self._chars = 0

    def __call__(self, text: str) -> int:
        if self.exact:
            n = self.count(text)
            self._tokens += n
            self._chars += len(text)
            return n
        ratio = self._tokens / self._chars if self._chars else 0.5
        return int(len(text) * ratio * 1.1) + 1


def _units(body: str, budget: int, count: Callable[[str], int]) -> Iterator[_Unit]:
    """Sentences (or pieces of over-long ones) in order, each sized when it is reached."""
    first_unit = True
    for para in body.split("\n"):
        first = True
        for sent in split_sentences(para):
            n = count(sent)
            sep = "\n" if first else " "
            first = False
            if n <= budget:
                parts = [_Unit(sent, sep, n)]
            else:
                parts = _split_long(sent, budget, count)
                if parts:
                    parts[0].sep = sep
            for part in parts:
                if first_unit:
                    part.sep = ""
                    first_unit = False
                yield part


def _join(units: list[_Unit]) -> str:
    return "".join((u.sep if i else "") + u.text for i, u in enumerate(units))


def _fit_title(title: str, max_title_tokens: int, count: Callable[[str], int]) -> str:
    """Shorten an over-long title (at word boundaries) so the context prefix leaves room."""
    words = thai_words(title)
    lo, hi = 0, len(words)
    while lo < hi:  # largest prefix that fits
        mid = (lo + hi + 1) // 2
        if count("".join(words[:mid]).strip()) <= max_title_tokens:
            lo = mid
        else:
            hi = mid - 1
    return "".join(words[:lo]).strip()


def chunk_article(
    article: Article,
    count_tokens: Callable[[str], int],
    max_tokens: int = 256,
    max_passages: int = 0,
    exact_passages: int = 0,
) -> list[Passage]:
    """Split ``article`` into passages of at most ``max_tokens`` tokens (title prefix included).

    ``text`` of a passage is its body text, ``embed_text`` is ``f"{title}\\n{text}"``. Sentences
    are packed greedily; a sentence longer than the budget is split at Thai word boundaries. A
    title-only article gives one passage holding the title. ``max_passages > 0`` keeps only the
    first N passages (the lead). ``n_tokens`` is ``count_tokens(embed_text)``.

    ``exact_passages > 0`` sizes only the first N passages with ``count_tokens`` (the ones that
    will be embedded); later passages are cut by a calibrated character estimate and their
    ``n_tokens`` is that estimate. They are never embedded, so being a few tokens off is harmless.
    """
    if max_tokens <= 0:
        raise ValueError("max_tokens must be positive")
    count = count_tokens
    overhead = count("")  # special tokens a tokenizer adds to every call (e.g. <s> </s>)

    def bare(s: str) -> int:
        return max(0, count(s) - overhead)

    title = article.title.strip()
    body = article.body.strip()
    if not body:
        if not title:
            return []
        t = title if count(title) <= max_tokens else _fit_title(title, max_tokens - overhead, bare)
        return [Passage(article.id, 0, title, t, count(t))]

    prefix = ""
    if title:
        ctx = title
        if bare(title + "\n") > (max_tokens - overhead) // 2:
            ctx = _fit_title(title, (max_tokens - overhead) // 2, bare)
            log.debug("%s: title context shortened to fit %d tokens", article.id, max_tokens)
        prefix = ctx + "\n" if ctx else ""
    prefix_tokens = bare(prefix) if prefix else 0
    budget = max(1, max_tokens - overhead - prefix_tokens - _margin(max_tokens))

    sizer = _Sizer(bare)
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    size = 0
    for u in _units(body, budget, sizer):
        if current and size + u.tokens > budget:
            groups.append(current)
            current, size = [], 0
            if max_passages > 0 and len(groups) >= max_passages:
                break  # the lead is complete: the rest of the body is not needed
            if exact_passages > 0 and len(groups) >= exact_passages:
                sizer.exact = False
        current.append(u)
        size += u.tokens
    else:
        if current:
            groups.append(current)

    passages: list[Passage] = []
    pending = list(reversed(groups))
    while pending:
        group = pending.pop()
        text = _join(group)
        embed = prefix + text
        exact = exact_passages <= 0 or len(passages) < exact_passages
        n = count(embed) if exact else overhead + prefix_tokens + sum(u.tokens for u in group) + len(group) - 1
        if n > max_tokens and len(group) > 1:  # estimate was off: split this group in two
            mid = len(group) // 2
            pending.append(group[mid:])
            pending.append(group[:mid])
            continue
        if n > max_tokens:
            log.debug("%s: passage of %d tokens exceeds %d", article.id, n, max_tokens)
        passages.append(Passage(article.id, len(passages), text, embed, n))
        if max_passages > 0 and len(passages) >= max_passages:
            break
    return passages
