"""`thaigov-search eval`: retrieval quality on a BEIR-layout set (corpus, queries, qrels).

The corpus goes through the normal write path (``article_from_fields`` → ``Indexer``), every
query through ``Searcher.search(text, k=100, mode=...)``, and the ranked article ids are scored
against the qrels:

* nDCG@10 with linear gain (gain = graded relevance, discount ``log2(rank + 1)``) and the ideal
  DCG taken from the qrels' own ordering, like pytrec_eval's ``ndcg_cut`` (BEIR's default);
* recall@k = relevant documents in the top k / all relevant documents of the query;
* MRR@10 = 1 / rank of the first relevant document in the top 10 (0 when there is none).

Relevance is document-level: a qrels score > 0 means relevant. Queries with no relevant document
in the qrels are left out of every average (the BEIR convention) and are not run.

Without ``--index-dir`` the corpus is indexed into a temporary directory that is removed
afterwards. With ``--index-dir DIR`` the index is kept and reused: the indexer is incremental
(unchanged articles are recognised by their content hash), so a second run over the same corpus
embeds nothing and goes straight to the queries, which keeps tuning loops (fusion weights,
query-side changes) fast. Changing the chunking settings or the model still re-embeds/refuses as
the indexer always does.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from thaigov_search.cli.common import settings_from
from thaigov_search.core.modes import BACKENDS, MODES
from thaigov_search.core.settings import Settings

SEARCH_K = 100
METRIC_KEYS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
JSON_KEYS = ("mode", "docs", "queries", *METRIC_KEYS, "index_s", "query_ms_p50")


# ------------------------------------------------------------------------------------ metrics
def _dedupe(ranked_ids: Sequence[str], k: int) -> list[str]:
    """The first k distinct ids (a document counts once, at its best rank)."""
    seen: dict[str, None] = {}
    for doc_id in ranked_ids:
        if doc_id not in seen:
            seen[doc_id] = None
            if len(seen) >= k:
                break
    return list(seen)


def ndcg_at_k(ranked_ids: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """nDCG@k with linear gain: sum(rel_i / log2(i + 1)) over ranks i = 1..k, divided by the same
    sum for the qrels sorted by relevance. 0.0 when the query has no relevant document."""
    ideal = sorted((rel for rel in qrels.values() if rel > 0), reverse=True)[:k]
    idcg = sum(rel / math.log2(rank + 1) for rank, rel in enumerate(ideal, 1))
    if idcg <= 0:
        return 0.0
    dcg = sum(max(qrels.get(doc_id, 0), 0) / math.log2(rank + 1)
              for rank, doc_id in enumerate(_dedupe(ranked_ids, k), 1))
    return dcg / idcg


def recall_at_k(ranked_ids: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Share of the query's relevant documents (score > 0) found in the top k. 0.0 when none exist."""
    relevant = {doc_id for doc_id, rel in qrels.items() if rel > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_dedupe(ranked_ids, k))) / len(relevant)


def mrr_at_k(ranked_ids: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k (0.0 if none)."""
    for rank, doc_id in enumerate(_dedupe(ranked_ids, k), 1):
        if qrels.get(doc_id, 0) > 0:
            return 1.0 / rank
    return 0.0


def query_metrics(ranked_ids: Sequence[str], qrels: Mapping[str, int]) -> dict[str, float]:
    return {
        "ndcg@10": ndcg_at_k(ranked_ids, qrels, 10),
        "recall@10": recall_at_k(ranked_ids, qrels, 10),
        "recall@100": recall_at_k(ranked_ids, qrels, 100),
        "mrr@10": mrr_at_k(ranked_ids, qrels, 10),
    }


# -------------------------------------------------------------------------------- BEIR files
@dataclass
class BeirSet:
    corpus: dict[str, dict[str, str]]  # id -> {"title", "text"}, in file order
    queries: dict[str, str]  # id -> text, in file order
    qrels: dict[str, dict[str, int]]  # query id -> {corpus id: relevance}


def _jsonl(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; ValueError naming file:line on any problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    found = False
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            found = True
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
            missing = [name for name in required if obj.get(name) is None or str(obj.get(name)).strip() == ""]
            if missing:
                raise ValueError(f"{path}:{number}: missing field(s) {', '.join(repr(m) for m in missing)}")
            yield number, obj
    if not found:
        raise ValueError(f"{path}: file is empty")


def load_corpus(path: Path) -> dict[str, dict[str, str]]:
    corpus: dict[str, dict[str, str]] = {}
    for number, obj in _jsonl(path, ("_id", "text")):
        doc_id = str(obj["_id"]).strip()
        if doc_id in corpus:
            raise ValueError(f"{path}:{number}: duplicate _id {doc_id!r}")
        corpus[doc_id] = {"title": str(obj.get("title") or ""), "text": str(obj["text"])}
    return corpus


def load_queries(path: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for number, obj in _jsonl(path, ("_id", "text")):
        query_id = str(obj["_id"]).strip()
        if query_id in queries:
            raise ValueError(f"{path}:{number}: duplicate _id {query_id!r}")
        queries[query_id] = str(obj["text"])
    return queries


def load_qrels(path: Path, queries: Mapping[str, str] | None = None,
               corpus: Mapping[str, object] | None = None) -> dict[str, dict[str, int]]:
    """Read a BEIR qrels.tsv (header ``query-id corpus-id score``); with ``queries``/``corpus``
    given, every id must exist in them."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    qrels: dict[str, dict[str, int]] = {}
    header_seen = False
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.split()
            if not header_seen:
                if [p.lower() for p in parts] != ["query-id", "corpus-id", "score"]:
                    raise ValueError(
                        f"{path}:{number}: expected the header 'query-id<TAB>corpus-id<TAB>score', got {line.strip()!r}"
                    )
                header_seen = True
                continue
            if len(parts) != 3:
                raise ValueError(f"{path}:{number}: expected 3 columns (query-id corpus-id score), got {len(parts)}")
            query_id, doc_id, raw_score = parts
            try:
                score = int(float(raw_score))
            except ValueError:
                raise ValueError(f"{path}:{number}: score {raw_score!r} is not a number") from None
            if queries is not None and query_id not in queries:
                raise ValueError(f"{path}:{number}: query id {query_id!r} is not in the queries file")
            if corpus is not None and doc_id not in corpus:
                raise ValueError(f"{path}:{number}: corpus id {doc_id!r} is not in the corpus file")
            qrels.setdefault(query_id, {})[doc_id] = score
    if not header_seen:
        raise ValueError(f"{path}: file is empty")
    if not qrels:
        raise ValueError(f"{path}: no judgements after the header")
    return qrels


def load_beir(corpus: Path, queries: Path, qrels: Path) -> BeirSet:
    docs = load_corpus(corpus)
    texts = load_queries(queries)
    return BeirSet(docs, texts, load_qrels(qrels, texts, docs))


# --------------------------------------------------------------------------------- evaluation
@dataclass
class ModeResult:
    mode: str
    docs: int
    queries: int
    metrics: dict[str, float]
    index_s: float
    query_ms_p50: float
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)  # query id -> metrics
    rankings: dict[str, list[str]] = field(default_factory=dict)  # query id -> ranked ids (top 100)

    def to_dict(self) -> dict:
        return {
            "mode": self.mode, "docs": self.docs, "queries": self.queries,
            **{key: round(self.metrics[key], 4) for key in METRIC_KEYS},
            "index_s": round(self.index_s, 4), "query_ms_p50": round(self.query_ms_p50, 4),
        }


def judged_queries(data: BeirSet, limit: int | None = None) -> list[str]:
    """Query ids with at least one relevant document, in queries-file order (BEIR convention)."""
    ids = [q for q in data.queries if any(rel > 0 for rel in data.qrels.get(q, {}).values())]
    return ids[:limit] if limit is not None else ids


def index_corpus(data: BeirSet, index_dir: Path, settings: Settings, embedder=None,
                 progress: bool = False):
    """Index the corpus with the normal write path; returns (IndexReport, Indexer embedder or None)."""
    from tqdm import tqdm

    from thaigov_search.indexing.parsing import EmptyArticleError, article_from_fields
    from thaigov_search.indexing.pipeline import Indexer, IndexReport

    started = time.perf_counter()
    total = IndexReport()
    articles = []
    for doc_id, doc in data.corpus.items():
        total.read += 1
        try:
            articles.append(article_from_fields(doc_id, {"title": doc["title"], "body": doc["text"]}))
        except EmptyArticleError as exc:
            total.skipped += 1
            total.warnings.append(f"skipped empty document {doc_id!r} ({exc})")
    indexer = Indexer(index_dir, settings, embedder)
    try:
        step = settings.commit_every
        with tqdm(total=len(articles), unit="doc", desc="indexing", disable=not progress, file=sys.stderr) as bar:
            for start in range(0, len(articles), step):
                report = indexer.index_articles(articles[start:start + step])
                for name in ("indexed", "unchanged", "passages", "embedded_passages", "tokens", "embed_seconds"):
                    setattr(total, name, getattr(total, name) + getattr(report, name))
                bar.update(len(articles[start:start + step]))
    finally:
        indexer.close()
    total.seconds = time.perf_counter() - started
    return total, indexer._embedder


def evaluate(
    data: BeirSet,
    modes: Sequence[str] = ("hybrid",),
    settings: Settings | None = None,
    index_dir: Path | None = None,
    embedder=None,
    limit_queries: int | None = None,
    progress: bool = False,
) -> list[ModeResult]:
    """Index ``data.corpus`` (into ``index_dir``, or a temporary directory) and score each mode."""
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"Unknown mode '{mode}': use one of {', '.join(MODES)} (or 'all').")
    settings = settings or Settings()
    query_ids = judged_queries(data, limit_queries)
    if not query_ids:
        raise ValueError("no query has a relevant document in the qrels: nothing to evaluate")
    with tempfile.TemporaryDirectory(prefix="thaigov-eval-") as tmp:
        target = Path(index_dir) if index_dir is not None else Path(tmp) / "index"
        report, embedder = index_corpus(data, target, settings, embedder, progress)
        return _run_queries(data, query_ids, modes, target, settings, embedder, report)


def _run_queries(data, query_ids, modes, index_dir, settings, embedder, report) -> list[ModeResult]:
    from thaigov_search.search.searcher import Searcher

    searcher = Searcher(index_dir, settings, embedder=embedder)
    expected = report.read - report.skipped
    stored = searcher.stats()["articles"]
    if stored > expected:
        raise ValueError(
            f"{index_dir} holds {stored - expected} article(s) that are not in the corpus; "
            f"use a directory dedicated to this corpus for --index-dir"
        )
    # Warm up (model load, first FAISS/SQLite touch) so it does not land in the latency figures.
    searcher.search(data.queries[query_ids[0]], k=SEARCH_K, mode=modes[0])
    results = []
    for mode in modes:
        per_query: dict[str, dict[str, float]] = {}
        rankings: dict[str, list[str]] = {}
        times: list[float] = []
        for query_id in query_ids:
            started = time.perf_counter()
            response = searcher.search(data.queries[query_id], k=SEARCH_K, mode=mode)
            times.append((time.perf_counter() - started) * 1000)
            ranked = [r.id for r in response.results]
            rankings[query_id] = ranked
            per_query[query_id] = query_metrics(ranked, data.qrels[query_id])
        metrics = {key: statistics.fmean(m[key] for m in per_query.values()) for key in METRIC_KEYS}
        results.append(ModeResult(mode, stored, len(query_ids), metrics, report.seconds,
                                  statistics.median(times), per_query, rankings))
    return results


# ---------------------------------------------------------------------------------------- CLI
def format_table(results: Sequence[ModeResult]) -> str:
    head = f"{'mode':<8} {'nDCG@10':>8} {'R@10':>7} {'R@100':>7} {'MRR@10':>7} {'q p50 ms':>9}"
    lines = [head, "-" * len(head)]
    for r in results:
        m = r.metrics
        lines.append(f"{r.mode:<8} {m['ndcg@10']:>8.4f} {m['recall@10']:>7.4f} {m['recall@100']:>7.4f} "
                     f"{m['mrr@10']:>7.4f} {r.query_ms_p50:>9.1f}")
    first = results[0]
    lines.append(f"{first.docs} docs, {first.queries} judged queries, indexing {first.index_s:.1f}s")
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace) -> int:

    data = load_beir(Path(args.corpus), Path(args.queries), Path(args.qrels))
    if args.limit_queries is not None and args.limit_queries < 1:
        raise ValueError("--limit-queries must be at least 1")
    modes = MODES if args.mode == "all" else (args.mode,)
    results = evaluate(data, modes, settings_from(args), Path(args.index_dir) if args.index_dir else None,
                       limit_queries=args.limit_queries, progress=not args.json and sys.stderr.isatty())
    if args.json:
        payload = [r.to_dict() for r in results] if args.mode == "all" else results[0].to_dict()
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(format_table(results))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="Retrieval quality (nDCG@10, recall@10/100, MRR@10) on a BEIR-layout set.",
        description=(
            "Index a BEIR corpus with the normal indexer, run every judged query, print nDCG@10, recall@10, "
            "recall@100 and MRR@10. Queries without a relevant document in the qrels are left out (BEIR "
            "convention). With --index-dir the index is kept and reused incrementally: a second run embeds "
            "nothing, so tuning loops are fast."
        ),
    )
    p.set_defaults(func=cmd_eval)
    p.add_argument("--corpus", required=True, help="corpus.jsonl (_id, title, text)")
    p.add_argument("--queries", required=True, help="queries.jsonl (_id, text)")
    p.add_argument("--qrels", required=True, help="qrels.tsv (header: query-id corpus-id score)")
    p.add_argument("--mode", choices=[*MODES, "all"], default="hybrid",
                   help="retrieval mode, or 'all' for one result per mode")
    p.add_argument("--model", help="'default' (embedded e5-small), a sentence-transformers id, or a local path")
    p.add_argument("--backend", choices=BACKENDS,
                   help="embedding backend for the corpus and the queries (default: $THAIGOV_SEARCH_BACKEND or torch)")
    p.add_argument("--max-passages", type=int, dest="max_passages_per_article",
                   help="embed at most N passages per document (BM25 still sees all of it)")
    p.add_argument("--json", action="store_true", help="print one JSON object (a list with --mode all)")
    p.add_argument("--index-dir", help="keep the index here and reuse it on later runs (default: a temporary one)")
    p.add_argument("--limit-queries", type=int, metavar="N", help="evaluate only the first N judged queries")
