"""What the retrievers found for one query, and how each search mode ranks it.

:class:`Candidates` is the one input of every ranking: the searcher fills it once per query, and
``eval`` ranks all modes from the same pool (each query embedded once, issue #11). :func:`rank` is a
pure function of it, so a new ranking signal is a field here and a term in search.fusion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thaigov_search.core.filters import Filters
from thaigov_search.search.fusion import MAX_LEXICAL_WEIGHT, hybrid_ranking
from thaigov_search.search.lexical.terms import QueryTerms
from thaigov_search.search.query_dates import DateHint


@dataclass
class Candidates:
    """What the retrievers found for one query, before any fusion: the input of :func:`rank`.

    Scores are keyed by article rowid. ``dense`` is the best passage's cosine similarity,
    ``lexical`` the BM25 score; ``best_pid`` remembers the dense passage for the snippet."""

    dense: dict[int, float]
    lexical: dict[int, float]
    terms: QueryTerms
    best_pid: dict[int, int] = field(default_factory=dict)
    date_hint: DateHint | None = None  # the period the query names
    evidence: float | None = None  # lexical evidence for the fusion weight (None: index-wide coverage)
    dates: dict[int, float] = field(default_factory=dict)  # rowid -> date fit (0..1) with date_hint
    date_weight: float = 0.0
    matches: dict[int, float] = field(default_factory=dict)  # the lexical part of the result set (search.archive)
    dense_top: float | None = None  # with a filter: the best dense score of the unfiltered query (search.archive)
    dense_scope: set[int] | None = None  # with a filter: the unfiltered query's dense candidates
    lexical_max: float = MAX_LEXICAL_WEIGHT  # BM25's largest share in hybrid (search.fusion.max_lexical_weight)
    filters: Filters | None = None  # the request's filter, which the candidates already passed
    titled: dict[int, float] | None = None  # ``dense`` with each title's cosine mixed in (search.titles)

    @property
    def hybrid_dense(self) -> dict[int, float]:
        """The dense scores hybrid fuses: ``titled`` when the index has title vectors, else ``dense``."""
        return self.dense if self.titled is None else self.titled


def rank(pool: Candidates, mode: str) -> list[tuple[int, float]]:
    """(rowid, score) best first for one mode; a pure function of the candidates. The single
    retrievers rank by their own scores; hybrid fuses them (search.fusion)."""
    if mode == "dense":
        return sorted(pool.dense.items(), key=lambda kv: (-kv[1], kv[0]))
    if mode == "lexical":
        return sorted(pool.lexical.items(), key=lambda kv: (-kv[1], kv[0]))
    return hybrid_ranking(pool.hybrid_dense, pool.lexical, pool.terms, pool.evidence, pool.dates, pool.date_weight,
                          pool.lexical_max)
