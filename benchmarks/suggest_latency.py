"""Search suggestions at full-corpus size (issue #14): build the phrases from every title, time answers.

    PYTHONPATH=. .venv/bin/python benchmarks/suggest_latency.py \
        --input ../shared/data/thaigov-news.jsonl.xz --out benchmarks/results/suggest/full-corpus.json
    PYTHONPATH=. .venv/bin/python benchmarks/suggest_latency.py --index-dir /tmp/full-index   # the mapped file

With ``--index-dir`` the titles come from the index and the phrases are the snapshot's mapped
``suggest-<gen>.bin`` (what ``serve`` answers from; "build" is then the time to map it).

Titles come from the normal parser (indexing.parsing), as the index stores them. The typed prefixes
are cut from random titles (seeded) at random character positions, so most end inside a Thai word,
plus fixed examples (half-typed Thai words, Latin, digits, B.E. years). Each prefix is answered once
after one warm-up pass; prints build time, phrase count, memory, and p50/p95/max latency in ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import statistics
import sys
import time
from pathlib import Path

from tqdm import tqdm

from thaigov_search.indexing.parsing import EmptyArticleError, parse_record
from thaigov_search.indexing.sources import ReadStats, iter_records
from thaigov_search.search.suggest import Suggestions
from thaigov_search.store.queries import all_titles
from thaigov_search.store.reader import IndexReader

EXAMPLES = ["เหลื่", "ความเหลื่อมล้ำ", "ลดความเหลื่", "โควิ", "covid", "COVID-1", "ปี 256", "2562", "พ.ศ. 25",
            "นายกฯ ประยุ", "การประชุมคณะรัฐมนตรี", "thail", "ASEAN", "5G", "ฝุ่น PM", "ท่องเที่ยวเมืองร", "น้ำท่",
            "เกษตรก", "ธ.ก.ส.", "ครม."]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input")
    source.add_argument("--index-dir", type=Path)
    parser.add_argument("--prefixes", type=int, default=2000)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out")
    args = parser.parse_args()
    titles = []
    if args.index_dir:
        reader = IndexReader(args.index_dir, verify="later")
        with reader.snapshot() as conn:
            titles = all_titles(conn)
    else:
        for record in tqdm(iter_records([Path(args.input)], ReadStats()), unit="release", file=sys.stderr, mininterval=10):
            try:
                titles.append(parse_record(record).title)
            except EmptyArticleError:
                continue
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if args.index_dir:
        table = reader.suggestions_snapshot()
        if table is None:
            parser.error(f"{args.index_dir} has no suggestion file yet: run `thaigov-search index` on it once")
        built = Suggestions(table)
    else:
        built = Suggestions.build(titles)
    build_s = time.perf_counter() - started
    rng = random.Random(args.seed)
    prefixes = list(EXAMPLES)
    while len(prefixes) < args.prefixes:
        title = rng.choice(titles)
        start = rng.randrange(0, max(1, len(title) // 2))
        prefixes.append(title[start:start + rng.randint(2, 20)])
    for p in prefixes:  # warm-up pass (first touches of the arrays)
        built.complete(p, args.k)
    times, empty = [], 0
    for p in prefixes:
        t0 = time.perf_counter()
        answer = built.complete(p, args.k)
        times.append((time.perf_counter() - t0) * 1000)
        empty += not answer
    times.sort()
    summary = {
        "input": str(args.index_dir or args.input), "source": "mapped file" if args.index_dir else "built in memory",
        "titles": len(titles), "phrases": len(built), "build_s": round(build_s, 2),
        "max_rss_growth_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1),
        "prefixes": len(prefixes), "no_suggestion": empty,
        "p50_ms": round(statistics.median(times), 3), "p95_ms": round(times[int(0.95 * len(times))], 3),
        "max_ms": round(times[-1], 3), "k": args.k,
        "machine": f"{platform.machine()}, {platform.python_version()}", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "examples": {p: built.complete(p, args.k) for p in EXAMPLES},
    }
    text = json.dumps(summary, ensure_ascii=False, indent=1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
