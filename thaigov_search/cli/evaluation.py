"""`thaigov-search eval`: retrieval quality on a judged set (corpus, queries, qrels).

The corpus is either a BEIR ``corpus.jsonl`` (``_id, title, text``; indexed through
``article_from_fields``) or anything ``thaigov-search index --input`` reads (the shared thaigov
corpus format, ``.jsonl.xz`` included, or generic JSONL), which goes through the indexer's own
reader and parser, so the corpus ids are the release ids. Without ``--corpus`` an existing
``--index-dir`` is used as it is (nothing is re-read or re-indexed: the fastest loop).

Every query is embedded once, on its own as the service does, each retriever's candidates are
fetched once per query through the read path (``Searcher.candidates``, the same candidates
``Searcher.search(text, k=100)`` ranks), and every requested mode is ranked from those same
candidates (``search.candidates.rank``); no snippets are built. The ranked article ids are scored against
the qrels:

* nDCG@10 with linear gain (gain = graded relevance, discount ``log2(rank + 1)``) and the ideal
  DCG taken from the qrels' own ordering, like pytrec_eval's ``ndcg_cut`` (BEIR's default);
* recall@k = relevant documents in the top k / all relevant documents of the query;
* MRR@10 = 1 / rank of the first relevant document in the top 10 (0 when there is none);
* en@10 = English-language articles among the top 10 (the language the parser detected), a
  measure of the language bias an English query meets in a mostly Thai corpus.

When the queries file gives each query a ``lang`` (``th``/``en``), every metric is also reported
per query language (``by_lang``).

Relevance is document-level: a qrels score > 0 means relevant. Queries with no relevant document
in the qrels are left out of every average (the BEIR convention) and are not run.

Without ``--index-dir`` the corpus is indexed into a temporary directory that is removed
afterwards. With ``--index-dir DIR`` the index is kept and reused: the indexer is incremental
(unchanged articles are recognised by their content hash), so a second run over the same corpus
embeds nothing and goes straight to the queries. Changing the chunking settings or the model still
re-embeds/refuses as the indexer always does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from thaigov_search.cli.common import settings_from
from thaigov_search.cli.eval_sets import (  # noqa: F401  (re-exported: eval's one import point)
    METRIC_KEYS,
    BeirSet,
    input_corpus_ids,
    is_beir_corpus,
    load_beir,
    load_corpus,
    load_qrels,
    load_queries,
    mrr_at_k,
    ndcg_at_k,
    query_metrics,
    recall_at_k,
)
from thaigov_search.core.models import MODEL_HELP
from thaigov_search.core.modes import BACKENDS, MODES
from thaigov_search.core.settings import Settings
from thaigov_search.store.manifest import Manifest

SEARCH_K = 100
JSON_KEYS = ("mode", "docs", "queries", *METRIC_KEYS, "index_s", "query_ms_p50")


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
    by_lang: dict[str, dict[str, float]] = field(default_factory=dict)  # query lang -> metrics (+ "queries")

    def to_dict(self) -> dict:
        out = {
            "mode": self.mode, "docs": self.docs, "queries": self.queries,
            **{key: round(self.metrics[key], 4) for key in METRIC_KEYS},
            "index_s": round(self.index_s, 4), "query_ms_p50": round(self.query_ms_p50, 4),
        }
        if self.by_lang:
            out["by_lang"] = {lang: {k: (v if k == "queries" else round(v, 4)) for k, v in m.items()}
                              for lang, m in self.by_lang.items()}
        return out


def judged_queries(data: BeirSet, limit: int | None = None) -> list[str]:
    """Query ids with at least one relevant document, in queries-file order (BEIR convention)."""
    ids = [q for q in data.queries if any(rel > 0 for rel in data.qrels.get(q, {}).values())]
    return ids[:limit] if limit is not None else ids


def index_corpus(data: BeirSet, index_dir: Path, settings: Settings, embedder=None,
                 progress: bool = False):
    """Index the corpus with the normal write path; returns (IndexReport, the embedder or None).

    An indexer input file (``data.corpus_input``) goes through ``run_index`` exactly as
    ``thaigov-search index --input`` would; a BEIR corpus through ``article_from_fields``."""
    from tqdm import tqdm

    from thaigov_search.indexing.parsing import EmptyArticleError, article_from_fields
    from thaigov_search.indexing.pipeline import Indexer, IndexReport
    from thaigov_search.indexing.run import run_index

    if data.corpus_input is not None:
        return run_index([data.corpus_input], index_dir, settings, progress=progress, embedder=embedder), embedder
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
    raw: bool = False,
) -> list[ModeResult]:
    """Index the corpus (into ``index_dir``, or a temporary directory) and score each mode.

    A set loaded without a corpus (``load_beir(None, ...)``) is judged on ``index_dir`` as it is."""
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"Unknown mode '{mode}': use one of {', '.join(MODES)} (or 'all').")
    settings = settings or Settings()
    query_ids = judged_queries(data, limit_queries)
    if not query_ids:
        raise ValueError("no query has a relevant document in the qrels: nothing to evaluate")
    has_corpus = bool(data.corpus) or data.corpus_input is not None
    if not has_corpus:
        if index_dir is None or not Manifest.exists(Path(index_dir)):
            raise ValueError("without --corpus, --index-dir must name an existing index")
        return _run_queries(data, query_ids, modes, Path(index_dir), settings, embedder, None, raw)
    with tempfile.TemporaryDirectory(prefix="thaigov-eval-") as tmp:
        target = Path(index_dir) if index_dir is not None else Path(tmp) / "index"
        report, embedder = index_corpus(data, target, settings, embedder, progress)
        return _run_queries(data, query_ids, modes, target, settings, embedder, report, raw)


def _run_queries(data, query_ids, modes, index_dir, settings, embedder, report, raw: bool = False) -> list[ModeResult]:
    """Embed every query once, fetch each retriever's candidates once per query, rank all modes.

    Each mode's ranking is arranged as ``/search`` arranges it with the settings' defaults (result set,
    recency, collapsed near-duplicates: search.archive); ``raw`` scores the fused ranking as it was
    before issue #14 (every candidate, nothing folded)."""
    from thaigov_search.search.candidates import rank
    from thaigov_search.search.searcher import Searcher
    from thaigov_search.store import queries

    searcher = Searcher(index_dir, settings, embedder=embedder)
    searcher.reader.refresh()
    options = searcher.arrange_options()
    stored = searcher.stats()["articles"]
    if report is not None and stored > report.read - report.skipped:
        raise ValueError(
            f"{index_dir} holds {stored - (report.read - report.skipped)} article(s) that are not in the corpus; "
            f"use a directory dedicated to this corpus for --index-dir"
        )
    with searcher.reader.snapshot() as conn:
        info = queries.article_ids_and_languages(conn)
    languages = dict(info.values())
    if report is None:  # an index judged as it is: the qrels must name its articles
        missing = sorted({d for q in query_ids for d in data.qrels[q] if d not in languages})
        if missing:
            raise ValueError(f"{len(missing)} judged id(s) are not in {index_dir}, e.g. {missing[0]!r}: "
                             "is this the index of this set's corpus?")
    need_dense = any(m != "lexical" for m in modes)
    need_lexical = any(m != "dense" for m in modes)
    texts = [data.queries[q] for q in query_ids]
    # One query per call, as the service embeds them: ONNX int8 quantises activations per batch, so a
    # query's vector (and a few rankings) would depend on the queries batched with it.
    vectors = [searcher.embedder.embed_queries([t], batch_size=1)[0] for t in texts] if need_dense \
        else [None] * len(texts)
    rankings: dict[str, dict[str, list[str]]] = {m: {} for m in modes}
    times: list[float] = []
    with searcher.reader.snapshot() as conn:
        searcher.lexical.prepare(conn)  # load the in-memory BM25 before the clock starts
        for query_id, text, vector in zip(query_ids, texts, vectors, strict=True):
            started = time.perf_counter()
            pool = searcher.candidates(conn, text, SEARCH_K, dense=need_dense, lexical=need_lexical, vector=vector)
            for mode in modes:
                ranked = rank(pool, mode) if raw else searcher.arrange(conn, pool, mode, options).items
                rankings[mode][query_id] = [info[rowid][0] for rowid, _ in ranked[:SEARCH_K]]
            times.append((time.perf_counter() - started) * 1000)
    index_s = report.seconds if report is not None else 0.0
    results = []
    for mode in modes:
        per_query = {q: query_metrics(rankings[mode][q], data.qrels[q], languages) for q in query_ids}
        metrics = _mean_metrics(per_query.values())
        by_lang = {}
        for lang in sorted({data.langs[q] for q in query_ids if q in data.langs}):
            chosen = [per_query[q] for q in query_ids if data.langs.get(q) == lang]
            by_lang[lang] = {"queries": len(chosen), **_mean_metrics(chosen)}
        results.append(ModeResult(mode, stored, len(query_ids), metrics, index_s, statistics.median(times),
                                  per_query, rankings[mode], by_lang))
    return results


def _mean_metrics(rows) -> dict[str, float]:
    rows = list(rows)
    return {key: statistics.fmean(m[key] for m in rows) for key in METRIC_KEYS}


# ---------------------------------------------------------------------------------------- CLI
def format_table(results: Sequence[ModeResult]) -> str:
    head = f"{'mode':<12} {'nDCG@10':>8} {'R@10':>7} {'R@100':>7} {'MRR@10':>7} {'en@10':>6} {'q p50 ms':>9}"
    lines = [head, "-" * len(head)]

    def row(name: str, m: Mapping[str, float], ms: str) -> str:
        return (f"{name:<12} {m['ndcg@10']:>8.4f} {m['recall@10']:>7.4f} {m['recall@100']:>7.4f} "
                f"{m['mrr@10']:>7.4f} {m['en@10']:>6.2f} {ms:>9}")

    for r in results:
        lines.append(row(r.mode, r.metrics, f"{r.query_ms_p50:.1f}"))
        for lang, m in r.by_lang.items():
            lines.append(row(f"  {lang} ({int(m['queries'])})", m, ""))
    first = results[0]
    lines.append(f"{first.docs} docs, {first.queries} judged queries, indexing {first.index_s:.1f}s")
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace) -> int:

    if args.corpus is None and args.index_dir is None:
        raise ValueError("give --corpus (and optionally --index-dir), or --index-dir of an existing index")
    data = load_beir(Path(args.corpus) if args.corpus else None, Path(args.queries), Path(args.qrels))
    if args.limit_queries is not None and args.limit_queries < 1:
        raise ValueError("--limit-queries must be at least 1")
    modes = MODES if args.mode == "all" else (args.mode,)
    settings = settings_from(args)
    if args.recency is not None:
        settings = settings.model_copy(update={"recency_half_life_days": args.recency})
    if args.collapse is not None:
        settings = settings.model_copy(update={"collapse_duplicates": args.collapse})
    results = evaluate(data, modes, settings, Path(args.index_dir) if args.index_dir else None,
                       limit_queries=args.limit_queries, progress=not args.json and sys.stderr.isatty(), raw=args.raw)
    if args.runs:
        Path(args.runs).write_text(json.dumps({r.mode: r.rankings for r in results}, ensure_ascii=False),
                                   encoding="utf-8")
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
            "Index a corpus (BEIR corpus.jsonl or the shared thaigov format) with the normal indexer, run every "
            "judged query, print nDCG@10, recall@10, recall@100, MRR@10 and en@10 (English articles in the top 10), "
            "per query language too when the queries carry 'lang'. Each query is embedded once and all modes are "
            "ranked from the same candidates. Queries without a relevant document in the qrels are left out (BEIR "
            "convention). With --index-dir the index is kept and reused incrementally: a second run embeds "
            "nothing; without --corpus the index is judged as it is."
        ),
    )
    p.set_defaults(func=cmd_eval)
    p.add_argument("--corpus", help="BEIR corpus.jsonl (_id, title, text) or any `index --input` file (the shared "
                   "thaigov corpus, .jsonl.xz included); omit it to judge an existing --index-dir as it is")
    p.add_argument("--queries", required=True, help="queries.jsonl (_id, text)")
    p.add_argument("--qrels", required=True, help="qrels.tsv (header: query-id corpus-id score)")
    p.add_argument("--mode", choices=[*MODES, "all"], default="hybrid",
                   help="retrieval mode, or 'all' for one result per mode")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--backend", choices=BACKENDS,
                   help="embedding backend for the corpus and the queries (default: $THAIGOV_SEARCH_BACKEND or torch)")
    p.add_argument("--max-passages", type=int, dest="max_passages_per_article",
                   help="embed at most N passages per document (BM25 still sees all of it)")
    p.add_argument("--json", action="store_true", help="print one JSON object (a list with --mode all)")
    p.add_argument("--index-dir", help="keep the index here and reuse it on later runs (default: a temporary one)")
    p.add_argument("--limit-queries", type=int, metavar="N", help="evaluate only the first N judged queries")
    p.add_argument("--recency", type=float, metavar="DAYS",
                   help="recency half-life in days (0 = off; default $THAIGOV_SEARCH_RECENCY_HALF_LIFE_DAYS)")
    p.add_argument("--collapse", action=argparse.BooleanOptionalAction, default=None,
                   help="fold near-duplicate versions as /search does (default: the setting, on; --no-collapse keeps every version)")
    p.add_argument("--raw", action="store_true",
                   help="score the fused ranking itself (no result-set cut, no recency, nothing folded: before issue #14)")
    p.add_argument("--runs", metavar="FILE", help="also write every query's ranked ids (top 100) per mode as JSON")
