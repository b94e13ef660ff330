"""Compare fusion rules on BEIR dev sets without re-embedding for every variant.

Retrieves each query's dense and lexical candidates once through the real read path
(IndexReader.dense_search, the FTS5 lexical engine over an index built by `thaigov-search eval
--index-dir`), then scores several fusion rules on those candidates. The chosen rule is confirmed
afterwards with the real `thaigov-search eval` command; this script only narrows the choice.

    python benchmarks/tune_fusion.py --index-dir /tmp/eval-index \
        --set ../shared/eval/iapp-wiki-qa-valid --set ../shared/eval/iapp-wiki-qa-valid-en
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from pathlib import Path

from thaigov_search.cli.evaluation import load_beir, ndcg_at_k
from thaigov_search.core.filters import Filters
from thaigov_search.core.settings import Settings
from thaigov_search.search import fusion
from thaigov_search.search.lexical.fts5 import Fts5Engine
from thaigov_search.search.lexical.terms import QueryTerms, query_terms
from thaigov_search.search.searcher import CANDIDATES, PASSAGES_PER_DOC, Searcher
from thaigov_search.store.queries import article_count


def collect(searcher: Searcher, queries: dict[str, str]) -> dict[str, tuple[dict, dict, QueryTerms]]:
    """Per query: dense doc scores, lexical doc scores (both keyed by article id) and its terms."""
    ids = list(queries)
    vectors = searcher.embedder.embed_queries([queries[q] for q in ids], batch_size=64)
    out = {}
    fts5 = Fts5Engine()
    with searcher.reader.snapshot() as conn:
        n_docs = article_count(conn)
        rowid_to_id = dict(conn.execute("SELECT rowid, id FROM articles").fetchall())
        for qid, vector in zip(ids, vectors, strict=True):
            hits = searcher.reader.dense_search(vector, CANDIDATES * PASSAGES_PER_DOC)
            dense, _ = searcher._aggregate(conn, hits)
            terms = query_terms(queries[qid], n_docs, lambda ts: fts5.doc_freq(conn, ts))  # noqa: B023 - called at once
            lexical = dict(fts5.search(conn, terms, CANDIDATES, Filters()))
            out[qid] = ({rowid_to_id[r]: s for r, s in dense.items()},
                        {rowid_to_id[r]: s for r, s in lexical.items()}, terms)
    return out


Rule = Callable[[dict, dict, QueryTerms], list[tuple[str, float]]]


def match_fraction(lexical: dict, ideal_bm25: float) -> float:
    """BM25 of the best lexical document over the BM25 of a document holding every query term once."""
    if not lexical or ideal_bm25 <= 0:
        return 0.0
    return max(0.0, min(1.0, max(lexical.values()) / ideal_bm25))


def rules() -> dict[str, Rule]:
    def ranked(scores: dict) -> list:
        return sorted(scores.items(), key=lambda kv: -kv[1])

    def rrf(dense: dict, lexical: dict, _terms) -> list:
        scores: dict[str, float] = {}
        for lst in (ranked(dense), ranked(lexical)):
            for rank, (doc, _) in enumerate(lst, 1):
                scores[doc] = scores.get(doc, 0.0) + 1 / (60 + rank)
        return ranked(scores)

    out: dict[str, Rule] = {
        "dense": lambda d, lx, t: ranked(d),
        "lexical": lambda d, lx, t: ranked(lx),
        "rrf60": rrf,
    }
    for w in (0.3, 0.5, 0.7):
        out[f"minmax w={w}"] = lambda d, lx, t, w=w: fusion.fuse(d, lx, w)
        out[f"minmax w={w}*coverage"] = lambda d, lx, t, w=w: fusion.fuse(d, lx, w * t.coverage)
    for w in (0.3, 0.5, 0.7):
        out[f"minmax w={w}*match"] = lambda d, lx, t, w=w: fusion.fuse(d, lx, w * match_fraction(lx, t.ideal_bm25))
    out["current"] = lambda d, lx, t: fusion.hybrid_ranking(d, lx, t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-dir", required=True, type=Path)
    parser.add_argument("--set", action="append", required=True, type=Path, help="a BEIR folder (repeatable)")
    args = parser.parse_args()
    searcher = Searcher(args.index_dir, Settings())
    table = {}
    for folder in args.set:
        data = load_beir(folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels.tsv")
        judged = {q: t for q, t in data.queries.items() if data.qrels.get(q)}
        candidates = collect(searcher, judged)
        for name, rule in rules().items():
            scores = [ndcg_at_k([d for d, _ in rule(*candidates[q])], data.qrels[q], 10) for q in judged]
            table.setdefault(name, {})[folder.name] = round(statistics.fmean(scores), 4)
    print(json.dumps(table, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
