"""Recall@10 of the HNSW index the writer builds above the exact-search threshold, against exact search.

Loads every passage vector of a real index (built with `thaigov-search index`), builds both the
exact index and the HNSW index exactly as `thaigov_search.store.writer.new_vector_index` makes them, embeds
real queries with the index's model (query prompt) and compares the top 10 passages. Also reports
build time, search latency per query (one thread, median) and memory of each index.

    python benchmarks/hnsw_recall.py --index-dir /srv/thaigov-index \
        --queries benchmarks/queries.txt ../shared/eval/iapp-wiki-qa-valid/queries.jsonl \
        ../shared/eval/iapp-wiki-qa-valid-en/queries.jsonl --output benchmarks/results/hnsw-recall.json
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from pathlib import Path

import faiss
import numpy as np

from thaigov_search.core.settings import Settings
from thaigov_search.embedding.embedder import Embedder
from thaigov_search.store.manifest import Manifest
from thaigov_search.store.schema import DB_NAME
from thaigov_search.store.vectors import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, build_vector_index

# Candidate depth the search service asks FAISS for (searcher.CANDIDATES * PASSAGES_PER_DOC).
SERVICE_FETCH = 400


def read_queries(paths: list[Path], limit: int) -> list[str]:
    out: list[str] = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                out.append(json.loads(line)["text"] if path.suffix == ".jsonl" else line)
    return out[:limit]


def timed_search(index: faiss.Index, queries: np.ndarray, k: int, params=None) -> tuple[np.ndarray, list[float]]:
    ids = np.zeros((len(queries), k), dtype=np.int64)
    times = []
    for i, q in enumerate(queries):
        start = time.perf_counter()
        _, found = index.search(q.reshape(1, -1), k, params=params) if params else index.search(q.reshape(1, -1), k)
        times.append((time.perf_counter() - start) * 1000)
        ids[i] = found[0]
    return ids, times


def recall_at(exact: np.ndarray, approx: np.ndarray, k: int) -> float:
    hits = sum(len(set(e[:k]) & set(a[:k])) for e, a in zip(exact, approx, strict=True))
    return hits / (k * len(exact))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, nargs="+", required=True, help="queries.txt or BEIR queries.jsonl")
    parser.add_argument("--limit", type=int, default=1000, help="at most this many queries")
    parser.add_argument("--ef-search", type=int, nargs="+", default=[128, SERVICE_FETCH, 800, HNSW_EF_SEARCH, 3000])
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)  # per-query latency as one request sees it

    manifest = Manifest.read(args.index_dir)
    conn = sqlite3.connect(args.index_dir / DB_NAME)
    conn.execute("BEGIN")
    start = time.perf_counter()
    exact = build_vector_index(conn, manifest.dimension, "flat")
    flat_s = time.perf_counter() - start
    faiss.omp_set_num_threads(2)  # building HNSW uses every core, as the writer does
    start = time.perf_counter()
    hnsw = build_vector_index(conn, manifest.dimension, "hnsw")
    hnsw_s = time.perf_counter() - start
    faiss.omp_set_num_threads(1)
    conn.execute("COMMIT")

    settings = Settings(backend=args.backend)
    embedder = Embedder.from_settings(settings, model=manifest.model)
    texts = read_queries(args.queries, args.limit)
    vectors = np.ascontiguousarray(embedder.embed_queries(texts, batch_size=16), dtype=np.float32)

    truth, exact_ms = timed_search(exact, vectors, 10)
    result: dict = {
        "index_dir": str(args.index_dir), "vectors": int(exact.ntotal), "queries": len(texts),
        "hnsw_m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "service_ef_search": HNSW_EF_SEARCH,
        "build_flat_s": round(flat_s, 2), "build_hnsw_s": round(hnsw_s, 2),
        "flat_bytes": int(faiss.serialize_index(exact).nbytes), "hnsw_bytes": int(faiss.serialize_index(hnsw).nbytes),
        "exact_p50_ms": round(statistics.median(exact_ms), 3),
        "runs": [],
    }
    for ef in args.ef_search:
        params = faiss.SearchParametersHNSW(efSearch=ef)
        found, ms = timed_search(hnsw, vectors, 10, params)
        result["runs"].append({"ef_search": ef, "recall@10": round(recall_at(truth, found, 10), 4),
                               "p50_ms": round(statistics.median(ms), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)})
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
