"""FAISS vector indexes: exact or HNSW by size, built from the stored passage vectors."""

from __future__ import annotations

import sqlite3

import faiss
import numpy as np

from thaigov_search.store.schema import blobs_to_matrix

# HNSW settings measured on the full corpus (91,686 lead-passage vectors, 1,094 real queries,
# benchmarks/hnsw_recall.py): recall@10 against exact search 0.858 at efSearch 128, 0.955 at 400,
# 0.993 at 1,500 (4.9 ms, about what exact search costs at that size: 6 ms), hence the exact
# threshold of 100,000 vectors (config.exact_search_max_passages). efConstruction 200 gained
# 0.07-0.10 recall over 80 at equal efSearch; M 48 gained nothing over 32.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 1500


def new_vector_index(dimension: int, kind: str) -> faiss.Index:
    """Exact inner product for small indexes, HNSW for large ones; both keyed by passage id."""
    if kind == "hnsw":
        base = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        base.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        base = faiss.IndexFlatIP(dimension)
    return faiss.IndexIDMap2(base)


def build_vector_index(conn: sqlite3.Connection, dimension: int, kind: str, batch: int = 20_000) -> faiss.Index:
    """Build a FAISS index from every stored passage vector (the caller holds a read transaction)."""
    index = new_vector_index(dimension, kind)
    last = 0
    while True:
        rows = conn.execute(
            "SELECT pid, vector FROM passages WHERE vector IS NOT NULL AND pid > ? ORDER BY pid LIMIT ?", (last, batch)
        ).fetchall()
        if not rows:
            break
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        index.add_with_ids(blobs_to_matrix([r[1] for r in rows], dimension), ids)
        last = int(ids[-1])
    return index


def read_snapshot(path: str) -> faiss.Index:
    """A snapshot file, memory-mapped where FAISS can (flat codes, HNSW's vectors): the pages come
    from the page cache, shared by every process serving the index, and opening costs ~1 ms instead
    of reading the file. Such an index must never be modified (FAISS aborts the process), hence
    :class:`LiveVectors`."""
    try:
        return faiss.read_index(path, faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError:  # an index type FAISS cannot map: read it
        return faiss.read_index(path)


class LiveVectors:
    """A snapshot (never modified) + the vectors added since (in memory) - the passages removed since.

    Exactly the passage vectors of the database generation the reader replayed to. Not thread-safe:
    the reader calls it under its lock.
    """

    def __init__(self, base: faiss.Index, dimension: int):
        self.base = base
        self.added = new_vector_index(dimension, "flat")
        self.removed: set[int] = set()  # passages of the snapshot deleted since
        self._selectors: dict[int, tuple[np.ndarray, faiss.IDSelector]] = {}
        self._base_ids = np.sort(faiss.vector_to_array(base.id_map)) if base.ntotal else np.zeros(0, dtype=np.int64)

    @property
    def is_hnsw(self) -> bool:
        return isinstance(faiss.downcast_index(self.base.index), faiss.IndexHNSW)

    @property
    def ntotal(self) -> int:
        """Live vectors."""
        return int(self.base.ntotal) - len(self.removed) + int(self.added.ntotal)

    def ids(self) -> set[int]:
        """Passage ids of the live vectors (for checks and tests)."""
        added = {int(i) for i in faiss.vector_to_array(self.added.id_map)}
        return ({int(i) for i in self._base_ids} - self.removed) | added

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.added.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> None:
        in_base = np.isin(ids, self._base_ids)
        self.removed.update(int(p) for p in ids[in_base])
        if (~in_base).any() and self.added.ntotal:
            self.added.remove_ids(np.ascontiguousarray(ids[~in_base]))

    def _selector(self, allowed: np.ndarray) -> faiss.IDSelector:
        """A FAISS selector of ``allowed``, reused while the caller passes the very same array (the
        searcher's per-language passage ids, fixed per generation): building one over 10,000 ids cost
        ~3 ms a query on the busy 2-core machine, twice per hybrid query."""
        cached = self._selectors.get(id(allowed))
        if cached is not None and cached[0] is allowed:
            return cached[1]
        selector = faiss.IDSelectorBatch(allowed)
        if len(self._selectors) >= 8:
            self._selectors.clear()
        self._selectors[id(allowed)] = (allowed, selector)  # the array is kept, so its id is not reused
        return selector

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None, ef_search: int) -> list[tuple[int, float]]:
        """(pid, inner product) best first, at most ``k``; ``allowed`` restricts to those passage ids."""
        selector = self._selector(allowed) if allowed is not None else None
        found: list[tuple[int, float]] = []
        for index, hnsw, extra in ((self.base, self.is_hnsw, len(self.removed)), (self.added, False, 0)):
            fetch = min(int(index.ntotal), k + extra)
            if fetch <= 0:
                continue
            if hnsw:
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(ef_search, fetch)) if selector \
                    else faiss.SearchParametersHNSW(efSearch=max(ef_search, fetch))
            else:
                params = faiss.SearchParameters(sel=selector) if selector else None
            scores, ids = index.search(query, fetch, params=params) if params else index.search(query, fetch)
            found += [(int(p), float(s)) for p, s in zip(ids[0], scores[0], strict=True)
                      if p >= 0 and (extra == 0 or int(p) not in self.removed)]
        found.sort(key=lambda h: (-h[1], h[0]))
        return found[:k]
