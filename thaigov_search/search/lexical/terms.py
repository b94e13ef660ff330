"""BM25 over the FTS5 table: query building, document frequencies, filtered search.

The index stores PyThaiNLP tokens joined by spaces and FTS5's ``ascii`` tokenizer splits only
on ASCII separators, so Thai words stay whole. Query tokens are quoted, so FTS syntax in user
input (``AND``, ``*``, ``"``, ``:``) is always literal text.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from thaigov_search.core.thai_text import tokenize_for_index

TITLE_WEIGHT = 2.0
BODY_WEIGHT = 1.0
MAX_QUERY_TERMS = 64


@dataclass(frozen=True)
class QueryTerms:
    """The distinct query tokens with their document frequencies in this index."""

    terms: tuple[str, ...]
    doc_freq: dict[str, int]
    n_docs: int

    def idf(self, term: str) -> float:
        df = self.doc_freq.get(term, 0)
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))

    def bm25_idf(self, term: str) -> float:
        """FTS5's BM25 idf (floored at 1e-6 as FTS5 does)."""
        df = self.doc_freq.get(term, 0)
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

    def match_expression(self) -> str | None:
        """An OR query of the quoted terms that occur in the index (None when none do)."""
        present = [t for t in self.terms if self.doc_freq.get(t, 0) > 0]
        if not present:
            return None
        return " OR ".join(quote(t) for t in present)


def quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def fts_terms(token: str) -> list[str]:
    """How FTS5's ascii tokenizer splits one of our tokens (ASCII punctuation separates)."""
    out, cur = [], []
    for ch in token:
        if ord(ch) < 128 and not ch.isalnum():
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch.lower() if ord(ch) < 128 else ch)
    if cur:
        out.append("".join(cur))
    return out


def article_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])


def query_terms(conn: sqlite3.Connection, query: str, n_docs: int | None = None,
                doc_freq: Callable[[Sequence[str]], dict[str, int]] | None = None) -> QueryTerms:
    """The query's terms with their document frequencies; ``n_docs`` may come from a cache and
    ``doc_freq`` from the in-memory index (:mod:`thaigov_search.search.lexical.memory`)."""
    seen: dict[str, None] = {}
    for token in tokenize_for_index(query):
        for term in fts_terms(token):
            seen.setdefault(term, None)
    terms = tuple(list(seen)[:MAX_QUERY_TERMS])
    if n_docs is None:
        n_docs = article_count(conn)
    frequencies: dict[str, int] = {}
    if terms and doc_freq is not None:
        frequencies = doc_freq(terms)
    elif terms:
        marks = ",".join("?" * len(terms))
        frequencies = dict(conn.execute(f"SELECT term, doc FROM lexical_vocab WHERE term IN ({marks})", terms).fetchall())
    return QueryTerms(terms, frequencies, n_docs)


def lexical_search(
    conn: sqlite3.Connection, terms: QueryTerms, limit: int, where_sql: str = "", where_args: tuple = ()
) -> list[tuple[int, float]]:
    """(article rowid, BM25 score) best first, by FTS5 itself; BM25 score is positive (higher is better).

    The service uses :class:`thaigov_search.search.lexical.memory.LexicalIndex` (same scores, far faster on
    large indexes); this is the reference it is tested against, and the tuning scripts' path."""
    expr = terms.match_expression()
    if expr is None:
        return []
    sql = (
        f"SELECT lexical.rowid, -bm25(lexical, {TITLE_WEIGHT}, {BODY_WEIGHT}) AS score FROM lexical "
        + ("JOIN articles a ON a.rowid = lexical.rowid " if where_sql else "")
        + "WHERE lexical MATCH ? "
        + (f"AND {where_sql} " if where_sql else "")
        + f"ORDER BY bm25(lexical, {TITLE_WEIGHT}, {BODY_WEIGHT}) LIMIT ?"
    )
    return [(int(r), float(s)) for r, s in conn.execute(sql, (expr, *where_args, limit)).fetchall()]
