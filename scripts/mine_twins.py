"""Mine English <-> Thai twins in a corpus, report their count and print a random sample to check by eye.

    PYTHONPATH=. python scripts/mine_twins.py --corpus ../shared/data/thaigov-news.jsonl.xz \\
        --out /work/cache/twins-full.jsonl --sample 30 --seed 20261203

Releases are parsed with the product's parser (:func:`thaigov_search.indexing.adapt_pairs.load_articles`); with
``--parsed-cache FILE`` the parsed releases are kept in a gzipped JSONL file and reused on the next run
(parsing 92k releases takes about 10 minutes on one core). Twins are linked by
:func:`thaigov_search.indexing.twins.find_twins` with the default model on the ONNX int8 backend.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", nargs="+", type=Path, required=True)
    ap.add_argument("--exclude", nargs="+", type=Path)
    ap.add_argument("--parsed-cache", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="twins JSONL")
    ap.add_argument("--sample", type=int, default=30)
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--backend", default="onnx-int8")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from thaigov_search.core.settings import Settings
    from thaigov_search.embedding.embedder import Embedder
    from thaigov_search.indexing.adapt_pairs import load_articles_cached, read_ids
    from thaigov_search.indexing.twins import TWIN_MODEL, find_twins, save_twins

    t0 = time.perf_counter()

    exclude = read_ids(args.exclude) if args.exclude else set()
    articles = load_articles_cached(args.corpus, exclude, args.parsed_cache)
    t_parse = time.perf_counter() - t0
    settings = Settings()
    embedder = Embedder(TWIN_MODEL, settings.home, backend=args.backend)
    twins = find_twins(articles, lambda texts: embedder.embed_passages(texts, batch_size=16, show_progress=True),
                       progress=True)
    t_all = time.perf_counter() - t0
    save_twins(twins, args.out)
    n_en = sum(1 for a in articles if a.language == "en")
    by_id = {a.id: a for a in articles}
    print(json.dumps({"releases": len(articles), "english": n_en, "twins": len(twins),
                      "parse_s": round(t_parse, 1), "total_s": round(t_all, 1)}))
    rng = random.Random(args.seed)
    for n, t in enumerate(rng.sample(twins, min(args.sample, len(twins))), 1):
        en, th = by_id[t.en_id], by_id[t.th_id]
        print(f"\n#{n} cos={t.cosine:.3f} score={t.score:.3f} days={t.days_apart} shared={','.join(t.shared)}")
        print(f"  EN {en.id} {en.date} {en.title[:160]}")
        print(f"  TH {th.id} {th.date} {th.title[:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
