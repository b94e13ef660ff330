"""How far any fusion of the retrievers can go on a dev set: the per-query best of the modes.

Reads the rankings ``thaigov-search eval --mode all --runs FILE`` wrote and the set's qrels, and
prints MRR@10 per mode and per query language, the *oracle* (for each query the best reciprocal rank
any mode reached: no fusion of these rankings can beat it), and how many answers are in some mode's
top 10 (the recall a re-ranking of the union could reach at best).

    thaigov-search eval ... --mode all --runs runs.json --json > eval.json
    python benchmarks/fusion_ceiling.py --runs runs.json --qrels ../shared/eval/thaigov-news-dev/qrels.tsv \\
        --queries ../shared/eval/thaigov-news-dev/queries.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def reciprocal_rank(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    for i, doc in enumerate(ranked[:k], 1):
        if doc in relevant:
            return 1.0 / i
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--qrels", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True, help="queries.jsonl (for each query's lang)")
    args = parser.parse_args()
    runs = json.loads(args.runs.read_text(encoding="utf-8"))
    relevant: dict[str, set[str]] = defaultdict(set)
    for line in args.qrels.read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) >= 3 and float(parts[2]) > 0:
            relevant[parts[0]].add(parts[1])
    langs = {}
    for line in args.queries.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            langs[row["_id"]] = row.get("lang", "all")
    modes = sorted(runs)
    out: dict[str, dict] = {}
    for lang in sorted({langs.get(q, "all") for q in relevant}) + ["all"]:
        queries = [q for q in relevant if lang == "all" or langs.get(q, "all") == lang]
        rr = {m: [reciprocal_rank(runs[m].get(q, []), relevant[q]) for q in queries] for m in modes}
        best = [max(rr[m][i] for m in modes) for i in range(len(queries))]
        in_top = sum(any(d in relevant[q] for m in modes for d in runs[m].get(q, [])[:10]) for q in queries)
        out[lang] = {"queries": len(queries), **{f"mrr@10 {m}": round(sum(rr[m]) / len(queries), 4) for m in modes},
                     "mrr@10 oracle": round(sum(best) / len(queries), 4), "answer in some top 10": in_top}
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
