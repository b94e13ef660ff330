"""A query's BM25 terms: split as the index splits text, with their document frequencies.

Both engines (:mod:`.fts5`, :mod:`.memory`) score the same :class:`QueryTerms`, so the idf and the
term list are computed once per query whichever engine answers it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from thaigov_search.core.thai_text import tokenize_for_index
from thaigov_search.store.fts5 import BODY_WEIGHT, TITLE_WEIGHT, fts_terms, match_expression

__all__ = ["BODY_WEIGHT", "TITLE_WEIGHT", "MAX_QUERY_TERMS", "QueryTerms", "query_terms"]
MAX_QUERY_TERMS = 64


@dataclass(frozen=True)
class QueryTerms:
    """The distinct query tokens with their document frequencies in this index."""

    terms: tuple[str, ...]
    doc_freq: dict[str, int]
    n_docs: int

    def _df(self, term: str) -> int:
        """The term's document frequency, at most ``n_docs`` (a frequency read a moment after the
        count, while a writer commits, may be higher; the idf stays defined)."""
        return min(self.doc_freq.get(term, 0), self.n_docs)

    def idf(self, term: str) -> float:
        df = self._df(term)
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))

    def bm25_idf(self, term: str) -> float:
        """FTS5's BM25 idf (floored at 1e-6 as FTS5 does)."""
        df = self._df(term)
        return max(1e-6, math.log((self.n_docs - df + 0.5) / (df + 0.5)))

    @property
    def ideal_bm25(self) -> float:
        """BM25 of a body that holds every query term once at average length: sum of idf."""
        return sum(self.bm25_idf(t) for t in self.terms) * BODY_WEIGHT

    @property
    def coverage(self) -> float:
        """Share of the query's IDF mass found in the index: ~0 for an English query over Thai text."""
        if not self.terms:
            return 0.0
        total = sum(self.idf(t) for t in self.terms)
        found = sum(self.idf(t) for t in self.terms if self.doc_freq.get(t, 0) > 0)
        return found / total if total else 0.0

    def share_held(self, doc_terms: set[str]) -> float:
        """Share of the query's IDF mass whose terms a document holds (1.0: every query word)."""
        total = sum(self.idf(t) for t in self.terms)
        return sum(self.idf(t) for t in self.terms if t in doc_terms) / total if total else 0.0

    def match_expression(self) -> str | None:
        """An OR query of the quoted terms that occur in the index (None when none do)."""
        return match_expression(t for t in self.terms if self.doc_freq.get(t, 0) > 0)


def query_terms(query: str, n_docs: int, doc_freq: Callable[[Sequence[str]], dict[str, int]]) -> QueryTerms:
    """The query's distinct terms (at most MAX_QUERY_TERMS) with ``doc_freq``'s frequencies over ``n_docs``."""
    seen: dict[str, None] = {}
    for token in tokenize_for_index(query):
        for term in fts_terms(token):
            seen.setdefault(term, None)
    terms = tuple(list(seen)[:MAX_QUERY_TERMS])
    return QueryTerms(terms, doc_freq(terms) if terms else {}, n_docs)
