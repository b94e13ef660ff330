"""Near-duplicate releases over a whole corpus with the index's own detection (issue #14).

Parses every release with the normal parser (indexing.parsing), takes its BM25 terms as the indexer
stores them, signs it (indexing.duplicates: MinHash of 5-word shingles) and finds the pairs with the
same LSH bands and estimated-Jaccard threshold the index uses (DuplicateFinder). No embedding.

    PYTHONPATH=. .venv/bin/python benchmarks/duplicates_full_corpus.py \
        --input ../shared/data/thaigov-news.jsonl.xz --out benchmarks/results/duplicates-full.json

Prints one JSON summary: articles, pairs and groups at several thresholds (the index's default is
Settings.duplicate_threshold), group sizes, the time, and --sample groups at the default threshold
(ids, dates, sections, titles, pairwise similarity, the first 160 characters of each body) to be
checked by eye (docs/quality.md has the judgement).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from thaigov_search.core.settings import Settings
from thaigov_search.core.thai_text import tokenize_for_index
from thaigov_search.indexing.duplicates import DuplicateFinder, signature_of_tokens
from thaigov_search.indexing.parsing import EmptyArticleError, parse_record
from thaigov_search.indexing.sources import ReadStats, iter_records
from thaigov_search.store.duplicates import groups

THRESHOLDS = (0.6, 0.7, 0.8, 0.9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    default = Settings().duplicate_threshold
    finder = DuplicateFinder(threshold=min(THRESHOLDS))
    meta: dict[str, tuple] = {}
    started = time.perf_counter()
    sign_s = 0.0
    for record in tqdm(iter_records([Path(args.input)], ReadStats(), limit=args.limit), unit="article",
                       file=sys.stderr, mininterval=10):
        try:
            article = parse_record(record)
        except EmptyArticleError:
            continue
        meta[article.id] = (article.date, article.category, article.title, article.body[:160], article.language)
        t0 = time.perf_counter()
        sig = signature_of_tokens(tokenize_for_index(article.title), tokenize_for_index(article.body))
        sign_s += time.perf_counter() - t0
        finder.add(article.id, sig)
    elapsed = time.perf_counter() - started
    summary: dict = {"input": args.input, "articles": len(meta), "seconds": round(elapsed, 1),
                     "sign_and_tokenise_seconds": round(sign_s, 1), "default_threshold": default, "thresholds": {}}
    for threshold in THRESHOLDS:
        pairs = [(a, b) for a, b, s in finder.pairs if s >= threshold]
        members: dict[str, list[str]] = {}
        for member, root in groups(pairs).items():
            members.setdefault(root, []).append(member)
        sizes = Counter(len(g) for g in members.values())
        summary["thresholds"][str(threshold)] = {
            "pairs": len(pairs), "groups": len(members), "articles_in_groups": sum(len(g) for g in members.values()),
            "folded_away": sum(len(g) - 1 for g in members.values()),
            "group_sizes": dict(sorted(sizes.items())),
        }
        if threshold == default:
            chosen = sorted(sorted(g) for g in members.values())
    sims = {(a, b): s for a, b, s in finder.pairs}
    rng = random.Random(args.seed)
    sample = rng.sample(chosen, min(args.sample, len(chosen)))
    summary["sample"] = [
        {"members": [{"id": m, "date": meta[m][0], "category": meta[m][1], "language": meta[m][4], "title": meta[m][2],
                      "body_start": meta[m][3]} for m in group],
         "similarities": sorted({round(s, 3) for (a, b), s in sims.items() if a in group and b in group})}
        for group in sample
    ]
    text = json.dumps(summary, ensure_ascii=False, indent=1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k != "sample"}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
