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
