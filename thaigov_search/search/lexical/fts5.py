"""BM25 asked of SQLite FTS5 per query: no load time, the reference the in-memory engine is tested
against, and what the one-shot CLI ``search`` uses (``THAIGOV_SEARCH_LEXICAL_ENGINE=fts5``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from thaigov_search.core.filters import Filters
from thaigov_search.search.lexical.terms import BODY_WEIGHT, TITLE_WEIGHT, QueryTerms
from thaigov_search.store.fts5 import bm25_search, vocab_doc_freq
from thaigov_search.store.queries import article_count
from thaigov_search.store.schema import current_generation

if TYPE_CHECKING:
    import sqlite3


class Fts5Engine:
    """:class:`~thaigov_search.search.lexical.engine.LexicalEngine` over the ``lexical`` FTS5 table."""

    def __init__(self) -> None:
        self._count: tuple[int, int] | None = None  # (generation, articles)

    def prepare(self, conn: sqlite3.Connection, generation: int | None = None) -> None:
        """Nothing to catch up with: FTS5 is the database itself."""

    def doc_freq(self, conn: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
        return vocab_doc_freq(conn, terms)

    def doc_count(self, conn: sqlite3.Connection) -> int:
        """The database's articles, counted once per generation (a count(*) scan per query adds up)."""
        generation = current_generation(conn)
        cached = self._count
        if cached is None or cached[0] != generation:
            cached = self._count = (generation, article_count(conn))
        return cached[1]

    def search(self, conn: sqlite3.Connection, terms: QueryTerms, k: int, filters: Filters,
               min_score: float = 0.0) -> list[tuple[int, float]]:
        expression = terms.match_expression()
        if expression is None:
            return []
        hits = bm25_search(conn, expression, k, TITLE_WEIGHT, BODY_WEIGHT, filters)
        return [hit for hit in hits if hit[1] >= min_score] if min_score > 0 else hits
