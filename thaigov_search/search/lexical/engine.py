"""The one interface both BM25 engines answer; the searcher holds one, chosen when it is built."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from thaigov_search.core.filters import Filters
from thaigov_search.search.lexical.terms import QueryTerms

if TYPE_CHECKING:
    import sqlite3


class LexicalEngine(Protocol):
    """BM25 (FTS5's formula: k1 1.2, b 0.75, title weight 2) over the index's articles.

    Every call runs inside the caller's read transaction ``conn``, so document frequencies, scores
    and the articles returned all belong to one committed generation.
    """

    def prepare(self, conn: sqlite3.Connection, generation: int | None = None) -> None:
        """Catch up with what ``conn`` sees (``generation``: the database's, when known)."""

    def doc_freq(self, conn: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
        """Articles holding each term (terms found nowhere are left out)."""

    def doc_count(self, conn: sqlite3.Connection) -> int:
        """The articles :meth:`doc_freq` counts in: the N of the idf. The in-memory index still
        counts articles deleted since it was loaded, so N is its own count, not the database's
        (with the database's, a term could be in more articles than N: log of a negative number)."""

    def search(self, conn: sqlite3.Connection, terms: QueryTerms, k: int, filters: Filters,
               min_score: float = 0.0) -> list[tuple[int, float]]:
        """Up to ``k`` live articles that pass ``filters`` and score at least ``min_score``, as
        (rowid, BM25 score) best first."""
