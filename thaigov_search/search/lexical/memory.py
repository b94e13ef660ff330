"""In-memory BM25 over the stored FTS5 terms: FTS5's own ``bm25()`` scores, in milliseconds.

FTS5 computes ``bm25()`` for every row that matches any query term, so a query holding a common
word (``การ``, ``ไทย``, ``ประเทศ``) costs time in proportion to the matching rows: about 6 ms at
6,000 articles and over 80 ms at the full 90,000 (docs/performance.md). This module scores a query
from term-major postings (:class:`~thaigov_search.store.postings.Postings`) by touching only its
terms' columns with numpy.

The base postings are the snapshot the indexer wrote beside the vector snapshot, memory-mapped
(:meth:`IndexReader.lexical_snapshot`): opening them costs milliseconds where counting the terms of
the full corpus from the database took 17.5-34 s, and every worker process serving the index shares
their pages. An index written before those files existed is counted from the database once, as before.

The scores are FTS5's: ``bm25(lexical, 2.0, 1.0)`` sums, per query term, ``idf * f * (k1 + 1) /
(f + k1 * (1 - b + b * D / avgD))`` where ``f`` is the column-weighted term frequency (title
counts twice), ``D`` the row's total token count and ``idf = log((N - n + 0.5) / (n + 0.5))``
(at least 1e-6). Only the documents' order of equal scores may differ.

Freshness: articles are only ever added with larger rowids (AUTOINCREMENT; a replaced article is
deleted and inserted again), so what a writer commits after the snapshot is exactly the rows above
its maximum rowid. Those go into a small second part, rebuilt on refresh. When the indexer writes a
newer snapshot, the next sync maps it instead; when the added part grows past a share of the base
without one, the whole index is counted again in a background thread and swapped in. Deleted
articles are dropped at result time by the caller's existence check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from thaigov_search.core.filters import Filters
from thaigov_search.search.lexical.terms import QueryTerms
from thaigov_search.store.fts5 import lexical_rows
from thaigov_search.store.postings import Postings, build_postings
from thaigov_search.store.queries import (
    article_rowids_matching,
    max_article_rowid,
    read_transaction,
)
from thaigov_search.store.reader import IndexReader
from thaigov_search.store.schema import current_generation

if TYPE_CHECKING:
    import sqlite3

logger = logging.getLogger(__name__)

K1 = 1.2  # FTS5's bm25 constants
B = 0.75
REBUILD_SHARE = 0.05  # rebuild the base when the added part exceeds this share of it ...
REBUILD_MIN_DOCS = 2000  # ... and at least this many articles

Snapshot = Callable[[], "tuple[Postings, int] | None"]


class LexicalIndex:
    """BM25 search over a base part and an added part; safe to share between threads.

    ``snapshot`` gives the index directory's BM25 postings snapshot and its generation (None when it
    has none); ``snapshot_generation`` says that generation cheaply, so a sync maps a newer one."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], snapshot: Snapshot | None = None,
                 snapshot_generation: Callable[[], int | None] | None = None):
        self._connect = connect  # opens a new connection (for the background rebuild)
        self._snapshot = snapshot or (lambda: None)
        self._snapshot_generation = snapshot_generation or (lambda: None)
        self._base_generation = -1  # the database generation the base part holds
        self._lock = threading.Lock()
        self._parts: tuple[Postings, ...] = ()
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
        newer = self._snapshot_generation()
        if not parts or (newer is not None and newer > self._base_generation):
            with self._lock:
                if not self._parts or (newer is not None and newer > self._base_generation):
                    self._load_base(conn)
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
            added = build_postings(lexical_rows(conn, base.max_rowid))
            self._parts = (base, added)
            if len(added.rowids) > max(REBUILD_MIN_DOCS, REBUILD_SHARE * len(base.rowids)) and not self._rebuilding:
                self._rebuilding = True
                threading.Thread(target=self._rebuild, name="lexical-rebuild", daemon=True).start()

    def _load_base(self, conn: sqlite3.Connection) -> None:
        """The snapshot mapped (+ the rows committed after it), else every row counted (under the lock)."""
        started = time.perf_counter()
        snapshot = self._snapshot()
        if snapshot is None:
            base = build_postings(lexical_rows(conn))
            self._parts, self._base_generation = (base,), current_generation(conn)
            how = "counted from the database (the next `thaigov-search index` run writes a snapshot that opens at once)"
        else:
            base, generation = snapshot
            added = build_postings(lexical_rows(conn, base.max_rowid))
            self._parts = (base, added) if len(added.rowids) else (base,)
            self._base_generation = generation
            how = f"snapshot of generation {generation} mapped, {len(added.rowids)} articles added since"
        logger.info("lexical index: %d articles, %d terms, %s, in %.2fs", len(base.rowids), len(base.vocab), how,
                    time.perf_counter() - started)

    def _rebuild(self) -> None:
        try:
            conn = self._connect()
            try:
                with read_transaction(conn):
                    fresh = build_postings(lexical_rows(conn))
                    generation = current_generation(conn)
            finally:
                conn.close()
            with self._lock:
                parts = self._parts
                if len(parts) > 1 and parts[-1].max_rowid > fresh.max_rowid:  # more arrived meanwhile
                    self._parts = (fresh, parts[-1].rows_after(fresh.max_rowid))
                else:
                    self._parts = (fresh,)
                self._base_generation = generation
            logger.info("lexical index rebuilt: %d articles", len(fresh.rowids))
        except Exception:  # noqa: BLE001 - keep serving with the parts we have
            logger.exception("lexical index rebuild failed; still serving the previous one")
        finally:
            self._rebuilding = False
        self._synced_generation = None

    # ---------------------------------------------------------------------------- queries
    def doc_count(self) -> int:
        """Articles in the loaded parts, deleted ones included (they count in :meth:`doc_freq` too)."""
        return sum(len(p.rowids) for p in self._parts)

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
                docs, weights = column
                f = weights.astype(np.float64)
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
        self._live: tuple[int, frozenset[int]] | None = None  # (generation, live article rowids)

    @property
    def index(self) -> LexicalIndex:
        with self._lock:
            if self._index is None or self._identity != self._reader.identity:
                self._identity = self._reader.identity
                reader = self._reader
                self._index = LexicalIndex(reader.new_connection, reader.lexical_snapshot,
                                           reader.lexical_snapshot_generation)
            return self._index

    def prepare(self, conn: sqlite3.Connection, generation: int | None = None) -> None:
        self.index.sync(conn, generation)

    def doc_freq(self, conn: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
        return self.index.doc_freq(terms)

    def doc_count(self, conn: sqlite3.Connection) -> int:
        return self.index.doc_count()

    def search(self, conn: sqlite3.Connection, terms: QueryTerms, k: int, filters: Filters,
               min_score: float = 0.0) -> list[tuple[int, float]]:
        """Candidates restricted to live (and filter-matching) articles: the loaded index may still
        hold articles deleted since, which take places, so fetch more until ``k`` live ones are found."""
        index = self.index
        allowed = article_rowids_matching(conn, filters) if filters.active else None
        fetch = k
        live = self._live_rowids(conn)
        while True:
            hits = index.search(terms, fetch, allowed, min_score)
            found = [(rowid, score) for rowid, score in hits if rowid in live]
            if len(found) >= k or len(hits) < fetch:  # enough, or nothing more to fetch
                return found[:k]
            fetch *= 2  # articles deleted since the index was loaded took some places

    def _live_rowids(self, conn: sqlite3.Connection) -> frozenset[int]:
        """The live articles' rowids, read once per generation (~5 MB at the full corpus). Asking the
        database about every hit cost 6 ms per search at the full corpus, where a query's lexical
        result set holds up to 10,000 articles (2026-12-03, 2 vCPU Xeon)."""
        generation = current_generation(conn)
        cached = self._live
        if cached is None or cached[0] != generation:
            cached = (generation, frozenset(article_rowids_matching(conn, Filters()).tolist()))
            self._live = cached
        return cached[1]
