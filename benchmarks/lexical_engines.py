"""BM25 by FTS5 per query against the in-memory index (thaigov_search/search/lexical/) on a real index.

Both return the top 100 for each query of benchmarks/queries.txt; the script reports the mean time
per query (one thread, in-process), the in-memory index's build time, and how far the two agree
(same top-100 sets, largest score difference).

    python benchmarks/lexical_engines.py --index-dir /srv/full-index --output benchmarks/results/lexical-full.json
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path

from thaigov_search.core.filters import Filters
from thaigov_search.search.lexical.fts5 import Fts5Engine
from thaigov_search.search.lexical.memory import LexicalIndex
from thaigov_search.search.lexical.terms import query_terms
from thaigov_search.store.queries import article_count

QUERIES = Path(__file__).with_name("queries.txt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    uri = f"file:{args.index_dir / 'index.sqlite'}?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    conn.execute("BEGIN")
    n_docs = article_count(conn)
    fts5 = Fts5Engine()
    index = LexicalIndex(lambda: sqlite3.connect(uri, uri=True))
    started = time.perf_counter()
    index.sync(conn)
    build_s = time.perf_counter() - started
    queries = [q.strip() for q in QUERIES.read_text(encoding="utf-8").splitlines() if q.strip() and not q.startswith("#")]

    fts_ms, memory_ms, same, max_diff = [], [], 0, 0.0
    for query in queries:
        terms = query_terms(query, n_docs, lambda ts: fts5.doc_freq(conn, ts))
        started = time.perf_counter()
        reference = dict(fts5.search(conn, terms, args.limit, Filters()))
        fts_ms.append((time.perf_counter() - started) * 1000)
        in_memory = query_terms(query, n_docs, index.doc_freq)
        started = time.perf_counter()
        got = dict(index.search(in_memory, args.limit))
        memory_ms.append((time.perf_counter() - started) * 1000)
        same += set(got) == set(reference)
        max_diff = max([max_diff, *(abs(got[r] - reference[r]) for r in set(got) & set(reference))])
    result = {
        "benchmark": "lexical_fts5_vs_memory", "index_dir": str(args.index_dir), "articles": n_docs,
        "queries": len(queries), "top": args.limit, "memory_build_s": round(build_s, 2),
        "fts5_mean_ms": round(sum(fts_ms) / len(fts_ms), 2), "fts5_worst_ms": round(max(fts_ms), 2),
        "memory_mean_ms": round(sum(memory_ms) / len(memory_ms), 3), "memory_worst_ms": round(max(memory_ms), 2),
        "same_top_sets": same, "max_score_diff": max_diff,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
