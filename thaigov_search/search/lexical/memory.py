"""In-memory BM25 over the stored FTS5 terms: FTS5's own ``bm25()`` scores, in milliseconds.

FTS5 computes ``bm25()`` for every row that matches any query term, so a query holding a common
word (``การ``, ``ไทย``, ``ประเทศ``) costs time in proportion to the matching rows: about 6 ms at
6,000 articles and over 80 ms at the full 90,000 (docs/performance.md). This module loads the
terms the indexer stored in the ``lexical`` table once, into a term-major sparse matrix, and scores
a query by touching only its terms' columns with numpy.

The scores are FTS5's: ``bm25(lexical, 2.0, 1.0)`` sums, per query term, ``idf * f * (k1 + 1) /
(f + k1 * (1 - b + b * D / avgD))`` where ``f`` is the column-weighted term frequency (title
counts twice), ``D`` the row's total token count and ``idf = log((N - n + 0.5) / (n + 0.5))``
(at least 1e-6). Only the documents' order of equal scores may differ.

Freshness: articles are only ever added with larger rowids (AUTOINCREMENT; a replaced article is
deleted and inserted again), so what a writer commits after the load is exactly the rows above
the loaded maximum rowid. Those go into a small second part, rebuilt on refresh; once it grows
past a share of the base, the whole index is rebuilt in a background thread and swapped in.
Deleted articles are dropped at result time by the caller's existence check.
"""

from __future__ import annotations

import logging
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from thaigov_search.core.filters import Filters
from thaigov_search.search.lexical.terms import BODY_WEIGHT, TITLE_WEIGHT, QueryTerms
from thaigov_search.store.fts5 import fts_tokens, lexical_rows
from thaigov_search.store.queries import (
    article_rowids_matching,
    live_rowids,
    max_article_rowid,
    read_transaction,
)
from thaigov_search.store.reader import IndexReader

if TYPE_CHECKING:
    import sqlite3

logger = logging.getLogger(__name__)

K1 = 1.2  # FTS5's bm25 constants
B = 0.75
REBUILD_SHARE = 0.05  # rebuild the base when the added part exceeds this share of it ...
REBUILD_MIN_DOCS = 2000  # ... and at least this many articles


@dataclass(frozen=True)
class _Part:
    """A block of articles: weighted term frequencies, row lengths, rowids."""

    rowids: np.ndarray  # int64, ascending
    freqs: sparse.csc_matrix  # docs x terms, float64 weighted frequency
    lengths: np.ndarray  # float64 tokens per row (title + body)
    vocab: dict[str, int]
    doc_freq: np.ndarray  # int64 docs per term

    @cached_property
    def total_length(self) -> float:
        """Tokens in all rows (for FTS5's average row length)."""
        return float(self.lengths.sum())

    @property
    def max_rowid(self) -> int:
        return int(self.rowids[-1]) if len(self.rowids) else 0

    def column(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(doc positions, weighted frequencies) of one term, or None when absent."""
        j = self.vocab.get(term)
        if j is None:
            return None
        start, end = self.freqs.indptr[j], self.freqs.indptr[j + 1]
        return self.freqs.indices[start:end], self.freqs.data[start:end]


def build_part(rows: Iterable[tuple[int, str, str]]) -> _Part:
    """Count the terms of (rowid, title terms, body terms) rows, ascending rowid."""
    vocab: dict[str, int] = {}
    new_id = vocab.setdefault
    # typed arrays, not lists: ~25 million (article, term) pairs at 90,000 articles
    doc_pos = array("i")
    term_ids = array("i")
    weights = array("d")
    rowids = array("q")
    lengths = array("d")
    for position, (rowid, title, body) in enumerate(rows):
        title_terms = fts_tokens(title)
        body_terms = fts_tokens(body)
        counts: dict[str, float] = Counter(body_terms)  # type: ignore[assignment]
        if BODY_WEIGHT != 1.0:
            counts = {term: n * BODY_WEIGHT for term, n in counts.items()}
        for term, n in Counter(title_terms).items():
            counts[term] = counts.get(term, 0.0) + n * TITLE_WEIGHT
        ids = [new_id(term, len(vocab)) for term in counts]
        term_ids.extend(ids)
        weights.extend(counts.values())
        doc_pos.extend(repeat(position, len(ids)))
        rowids.append(rowid)
        lengths.append(len(title_terms) + len(body_terms))
    n_docs, n_terms = len(rowids), len(vocab)
    freqs = sparse.csc_matrix(
        (np.frombuffer(weights, dtype=np.float64),
         (np.frombuffer(doc_pos, dtype=np.int32), np.frombuffer(term_ids, dtype=np.int32))),
        shape=(n_docs, n_terms),
    )
    freqs.sort_indices()
    return _Part(
        rowids=np.frombuffer(rowids, dtype=np.int64).copy(),
        freqs=freqs,
        lengths=np.frombuffer(lengths, dtype=np.float64).copy(),
        vocab=vocab,
        doc_freq=np.diff(freqs.indptr).astype(np.int64),
    )


class LexicalIndex:
    """BM25 search over a base part and an added part; safe to share between threads."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]):
        self._connect = connect  # opens a new connection (for the background rebuild)
        self._lock = threading.Lock()
        self._parts: tuple[_Part, ...] = ()
        self._rebuilding = False
        self._synced_generation: int | None = None

    # ------------------------------------------------------------------------- freshness
    def sync(self, conn: sqlite3.Connection, generation: int | None = None) -> None:
        """Catch up with what ``conn``'s read transaction sees (rows above the loaded maximum).

        ``generation`` (the database's write counter, when the caller knows it) skips the check
        when nothing was committed since the last call."""
        if generation is not None and generation == self._synced_generation:
            return
        self._sync(conn)
        self._synced_generation = generation

    def _sync(self, conn: sqlite3.Connection) -> None:
        parts = self._parts
        if not parts:
            with self._lock:
                if not self._parts:
                    started = time.perf_counter()
                    self._parts = (build_part(lexical_rows(conn)),)
                    base = self._parts[0]
                    logger.info("lexical index: %d articles, %d terms in %.1fs", len(base.rowids), len(base.vocab),
                                time.perf_counter() - started)
            return
        top = max_article_rowid(conn)  # same rowids as the lexical table
        if top <= parts[-1].max_rowid:
            return
        with self._lock:
            parts = self._parts
            if top <= parts[-1].max_rowid:
                # Another thread, whose read transaction is newer than ours, synced while we waited:
                # rebuilding the added part from our older snapshot would drop its rows (and its
                # generation is already recorded, so nothing would bring them back until the next write).
                return
            base = parts[0]
            added = build_part(lexical_rows(conn, base.max_rowid))
            self._parts = (base, added)
            if len(added.rowids) > max(REBUILD_MIN_DOCS, REBUILD_SHARE * len(base.rowids)) and not self._rebuilding:
                self._rebuilding = True
                threading.Thread(target=self._rebuild, name="lexical-rebuild", daemon=True).start()

    def _rebuild(self) -> None:
        try:
            conn = self._connect()
            try:
                with read_transaction(conn):
                    fresh = build_part(lexical_rows(conn))
            finally:
                conn.close()
            with self._lock:
                parts = self._parts
                if len(parts) > 1 and parts[-1].max_rowid > fresh.max_rowid:  # more arrived meanwhile
                    self._parts = (fresh, _filter_after(parts[-1], fresh.max_rowid))
                else:
                    self._parts = (fresh,)
            logger.info("lexical index rebuilt: %d articles", len(fresh.rowids))
        except Exception:  # noqa: BLE001 - keep serving with the parts we have
            logger.exception("lexical index rebuild failed; still serving the previous one")
        finally:
            self._rebuilding = False
        self._synced_generation: int | None = None

    # ---------------------------------------------------------------------------- queries
    def doc_freq(self, terms: Iterable[str]) -> dict[str, int]:
        parts = self._parts
        out: dict[str, int] = {}
        for term in terms:
            n = sum(int(p.doc_freq[j]) for p in parts if (j := p.vocab.get(term)) is not None)
            if n:
                out[term] = n
        return out

    def search(self, query: QueryTerms, limit: int, allowed: np.ndarray | None = None,
               min_score: float = 0.0) -> list[tuple[int, float]]:
        """(rowid, BM25) best first for an OR of the query's terms; ``allowed`` restricts to those rowids.

        Document frequencies and idf come from ``query`` (built with :meth:`doc_freq`), as FTS5's do."""
        parts = self._parts
        present = [t for t in query.terms if query.doc_freq.get(t, 0) > 0]
        if not parts or not present or limit <= 0:
            return []
        total_docs = sum(len(p.rowids) for p in parts)
        avg_length = sum(p.total_length for p in parts) / max(total_docs, 1)
        rowid_chunks, score_chunks = [], []
        for part in parts:
            scores = np.zeros(len(part.rowids), dtype=np.float64)
            hit = np.zeros(len(part.rowids), dtype=bool)
            for term in present:
                column = part.column(term)
                if column is None:
                    continue
                docs, f = column
                idf = query.bm25_idf(term)
                norm = K1 * (1.0 - B + B * part.lengths[docs] / avg_length)
                scores[docs] += idf * f * (K1 + 1.0) / (f + norm)
                hit[docs] = True
            if allowed is not None:
                hit &= np.isin(part.rowids, allowed, assume_unique=True)
            if min_score > 0:
                hit &= scores >= min_score
            idx = np.flatnonzero(hit)
            rowid_chunks.append(part.rowids[idx])
            score_chunks.append(scores[idx])
        rowids = np.concatenate(rowid_chunks)
        scores = np.concatenate(score_chunks)
        if len(rowids) > limit:
            keep = np.argpartition(-scores, limit - 1)[:limit]
            rowids, scores = rowids[keep], scores[keep]
        order = np.lexsort((rowids, -scores))
        return [(int(rowids[i]), float(scores[i])) for i in order]



class MemoryEngine:
    """:class:`~thaigov_search.search.lexical.engine.LexicalEngine` from a :class:`LexicalIndex` of ``reader``'s
    index; a new one (built on first use) when the index directory is rebuilt from scratch."""

    def __init__(self, reader: IndexReader):
        self._reader = reader
        self._lock = threading.Lock()
        self._identity: tuple[int, int] | None = None
        self._index: LexicalIndex | None = None

    @property
    def index(self) -> LexicalIndex:
        with self._lock:
            if self._index is None or self._identity != self._reader.identity:
                self._identity = self._reader.identity
                self._index = LexicalIndex(self._reader.new_connection)
            return self._index

    def prepare(self, conn: sqlite3.Connection, generation: int | None = None) -> None:
        self.index.sync(conn, generation)

    def doc_freq(self, conn: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
        return self.index.doc_freq(terms)

    def search(self, conn: sqlite3.Connection, terms: QueryTerms, k: int, filters: Filters,
               min_score: float = 0.0) -> list[tuple[int, float]]:
        """Candidates restricted to live (and filter-matching) articles: the loaded index may still
        hold articles deleted since, which take places, so fetch more until ``k`` live ones are found."""
        index = self.index
        allowed = article_rowids_matching(conn, filters) if filters.active else None
        fetch = k
        while True:
            hits = index.search(terms, fetch, allowed, min_score)
            live = live_rowids(conn, [rowid for rowid, _ in hits])
            found = [(rowid, score) for rowid, score in hits if rowid in live]
            if len(found) >= k or len(hits) < fetch:  # enough, or nothing more to fetch
                return found[:k]
            fetch *= 2  # articles deleted since the index was loaded took some places


def _filter_after(part: _Part, rowid: int) -> _Part:
    """The rows of ``part`` above ``rowid`` (rebuilt; the added part is small)."""
    keep = np.flatnonzero(part.rowids > rowid)
    freqs = part.freqs[keep, :].tocsc()
    freqs.sort_indices()
    return _Part(part.rowids[keep], freqs, part.lengths[keep], part.vocab, np.diff(freqs.indptr).astype(np.int64))
