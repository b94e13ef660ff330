"""`thaigov-search eval`: retrieval quality on a judged set (corpus, queries, qrels).

The corpus is either a BEIR ``corpus.jsonl`` (``_id, title, text``; indexed through
``article_from_fields``) or anything ``thaigov-search index --input`` reads (the shared thaigov
corpus format, ``.jsonl.xz`` included, or generic JSONL), which goes through the indexer's own
reader and parser, so the corpus ids are the release ids. Without ``--corpus`` an existing
``--index-dir`` is used as it is (nothing is re-read or re-indexed: the fastest loop).

Every query is embedded once (one batch for the whole set), each retriever's candidates are
fetched once per query through the read path (``Searcher.candidates``, the same candidates
``Searcher.search(text, k=100)`` ranks), and every requested mode is ranked from those same
candidates (``searcher.rank``); no snippets are built. The ranked article ids are scored against
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
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from thaigov_search.config import Settings

MODES = ("hybrid", "dense", "lexical")
SEARCH_K = 100
METRIC_KEYS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "en@10")
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


def query_metrics(ranked_ids: Sequence[str], qrels: Mapping[str, int],
                  languages: Mapping[str, str] | None = None) -> dict[str, float]:
    """The per-query metrics; ``languages`` (article id -> ``th``/``en``) gives en@10."""
    top10 = _dedupe(ranked_ids, 10)
    return {
        "ndcg@10": ndcg_at_k(ranked_ids, qrels, 10),
        "recall@10": recall_at_k(ranked_ids, qrels, 10),
        "recall@100": recall_at_k(ranked_ids, qrels, 100),
        "mrr@10": mrr_at_k(ranked_ids, qrels, 10),
        "en@10": float(sum(1 for d in top10 if (languages or {}).get(d) == "en")),
    }


# -------------------------------------------------------------------------------- BEIR files
@dataclass
class BeirSet:
    corpus: dict[str, dict[str, str]]  # id -> {"title", "text"}, in file order (BEIR corpus)
    queries: dict[str, str]  # id -> text, in file order
    qrels: dict[str, dict[str, int]]  # query id -> {corpus id: relevance}
    langs: dict[str, str] = field(default_factory=dict)  # query id -> "th"/"en" when the file says
    corpus_input: Path | None = None  # an indexer input file (thaigov format) instead of a BEIR corpus
    corpus_ids: frozenset[str] = frozenset()  # the ids in corpus_input


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


def load_queries(path: Path, langs: dict[str, str] | None = None) -> dict[str, str]:
    """id -> text; a query's optional ``lang`` goes into ``langs`` when that dict is given."""
    queries: dict[str, str] = {}
    for number, obj in _jsonl(path, ("_id", "text")):
        query_id = str(obj["_id"]).strip()
        if query_id in queries:
            raise ValueError(f"{path}:{number}: duplicate _id {query_id!r}")
        queries[query_id] = str(obj["text"])
        if langs is not None and str(obj.get("lang") or "").strip():
            langs[query_id] = str(obj["lang"]).strip()
    return queries


def is_beir_corpus(path: Path) -> bool:
    """A BEIR corpus.jsonl (first object has ``_id``) rather than an indexer input file."""  # noqa: D401
    from indexer.sources import _is_jsonl, _open_binary

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if not _is_jsonl(path):
        return False
    with _open_binary(path) as fh:
        for raw in fh:
            if raw.strip():
                try:
                    obj = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return False
                return isinstance(obj, dict) and "_id" in obj
    return True  # nothing in it: the BEIR reader says "file is empty"


def input_corpus_ids(path: Path) -> frozenset[str]:
    """The ids of an indexer input file, read by the indexer's own reader (bad lines skipped)."""
    from indexer.sources import ReadStats, iter_records

    return frozenset(rec.id for rec in iter_records([path], ReadStats()))


def load_qrels(path: Path, queries: Mapping[str, str] | None = None,
               corpus: Container[str] | None = None) -> dict[str, dict[str, int]]:
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


def load_beir(corpus: Path | None, queries: Path, qrels: Path) -> BeirSet:
    """Queries and qrels with their corpus: a BEIR corpus.jsonl, an indexer input file (the shared
    thaigov format), or None (an existing index is judged as it is; ids are checked against it)."""
    langs: dict[str, str] = {}
    texts = load_queries(queries, langs)
    if corpus is None:
        return BeirSet({}, texts, load_qrels(qrels, texts), langs)
    if is_beir_corpus(corpus):
        docs = load_corpus(corpus)
        return BeirSet(docs, texts, load_qrels(qrels, texts, docs), langs)
    ids = input_corpus_ids(corpus)
    if not ids:
        raise ValueError(f"{corpus}: no readable record")
    return BeirSet({}, texts, load_qrels(qrels, texts, ids), langs, Path(corpus), ids)


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

    from indexer.parsing import EmptyArticleError, article_from_fields
    from indexer.pipeline import Indexer, IndexReport, run_index

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
        if index_dir is None or not (Path(index_dir) / "manifest.json").exists():
            raise ValueError("without --corpus, --index-dir must name an existing index")
        return _run_queries(data, query_ids, modes, Path(index_dir), settings, embedder, None)
    with tempfile.TemporaryDirectory(prefix="thaigov-eval-") as tmp:
        target = Path(index_dir) if index_dir is not None else Path(tmp) / "index"
        report, embedder = index_corpus(data, target, settings, embedder, progress)
        return _run_queries(data, query_ids, modes, target, settings, embedder, report)


def _run_queries(data, query_ids, modes, index_dir, settings, embedder, report) -> list[ModeResult]:
    """Embed every query once, fetch each retriever's candidates once per query, rank all modes."""
    from search_api.searcher import Searcher, rank

    searcher = Searcher(index_dir, settings, embedder=embedder)
    searcher.reader.refresh()
    stored = searcher.stats()["articles"]
    if report is not None and stored > report.read - report.skipped:
        raise ValueError(
            f"{index_dir} holds {stored - (report.read - report.skipped)} article(s) that are not in the corpus; "
            f"use a directory dedicated to this corpus for --index-dir"
        )
    with searcher.reader.snapshot() as conn:
        info = {rowid: (doc_id, lang) for rowid, doc_id, lang in conn.execute("SELECT rowid, id, language FROM articles")}
    languages = dict(info.values())
    if report is None:  # an index judged as it is: the qrels must name its articles
        missing = sorted({d for q in query_ids for d in data.qrels[q] if d not in languages})
        if missing:
            raise ValueError(f"{len(missing)} judged id(s) are not in {index_dir}, e.g. {missing[0]!r}: "
                             "is this the index of this set's corpus?")
    need_dense = any(m != "lexical" for m in modes)
    need_lexical = any(m != "dense" for m in modes)
    texts = [data.queries[q] for q in query_ids]
    vectors = searcher.embedder.embed_queries(texts, batch_size=32) if need_dense else [None] * len(texts)
    rankings: dict[str, dict[str, list[str]]] = {m: {} for m in modes}
    times: list[float] = []
    with searcher.reader.snapshot() as conn:
        if searcher.in_memory_lexical:  # load the in-memory BM25 before the clock starts
            searcher.reader.lexical.sync(conn)
        for query_id, text, vector in zip(query_ids, texts, vectors, strict=True):
            started = time.perf_counter()
            pool = searcher.candidates(conn, text, SEARCH_K, dense=need_dense, lexical=need_lexical, vector=vector)
            for mode in modes:
                rankings[mode][query_id] = [info[rowid][0] for rowid, _ in rank(pool, mode)[:SEARCH_K]]
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
    from thaigov_search.cli import settings_from

    if args.corpus is None and args.index_dir is None:
        raise ValueError("give --corpus (and optionally --index-dir), or --index-dir of an existing index")
    data = load_beir(Path(args.corpus) if args.corpus else None, Path(args.queries), Path(args.qrels))
    if args.limit_queries is not None and args.limit_queries < 1:
        raise ValueError("--limit-queries must be at least 1")
    modes = MODES if args.mode == "all" else (args.mode,)
    results = evaluate(data, modes, settings_from(args), Path(args.index_dir) if args.index_dir else None,
                       limit_queries=args.limit_queries, progress=not args.json and sys.stderr.isatty())
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
    p.add_argument("--model", help="'default' (embedded e5-small), a sentence-transformers id, or a local path")
    p.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"],
                   help="embedding backend for the corpus and the queries (default: $THAIGOV_SEARCH_BACKEND or torch)")
    p.add_argument("--max-passages", type=int, dest="max_passages_per_article",
                   help="embed at most N passages per document (BM25 still sees all of it)")
    p.add_argument("--json", action="store_true", help="print one JSON object (a list with --mode all)")
    p.add_argument("--index-dir", help="keep the index here and reuse it on later runs (default: a temporary one)")
    p.add_argument("--limit-queries", type=int, metavar="N", help="evaluate only the first N judged queries")
    p.add_argument("--runs", metavar="FILE", help="also write every query's ranked ids (top 100) per mode as JSON")
