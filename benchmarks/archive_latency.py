"""What the news-archive features (issue #14) cost per query: Searcher.search p50 over the dev queries.

    PYTHONPATH=. .venv/bin/python benchmarks/archive_latency.py --index-dir IDX --queries queries.jsonl
    PYTHONPATH=/path/to/older/checkout .venv/bin/python benchmarks/archive_latency.py ...   # the baseline

Runs every query once per configuration (after one warm-up pass, memory BM25 engine, as `serve`):
``default`` (result set + collapse), ``facets`` (category,year), ``date_desc+facets``, ``recency365``;
on code from before issue #14 only ``default`` exists (its search() has no such options). Prints one
JSON object of medians and p95 in ms; run the baseline in the same session for a ratio.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import sys
import time
from pathlib import Path

from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher

CONFIGS = {
    "default": {},
    "facets": {"facets": ("category", "year")},
    "date_desc+facets": {"sort": "date_desc", "facets": ("category", "year")},
    "recency365": {"recency": 365.0},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for line in Path(args.queries).read_text(encoding="utf-8").splitlines()
             if line.strip()][:args.limit]
    searcher = Searcher(Path(args.index_dir), Settings(analytics=False))
    searcher.warm_up()
    archive = "facets" in inspect.signature(searcher.search).parameters
    out = {"code": os.environ.get("PYTHONPATH", "."), "queries": len(texts), "archive_features": archive}
    for name, options in CONFIGS.items():
        if options and not archive:
            continue
        for text in texts:  # warm-up: model, BM25 matrix, facts, spelling vocabulary
            searcher.search(text, k=10, **options)
        times = []
        for text in texts:
            started = time.perf_counter()
            searcher.search(text, k=10, **options)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        out[name] = {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * len(times))], 2)}
    out["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
