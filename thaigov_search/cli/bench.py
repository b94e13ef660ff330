"""`thaigov-search bench`: indexing throughput and search-service load tests.

* ``bench indexing`` runs the normal indexer (the same code as ``thaigov-search index``) into a
  temporary index and reports articles/s, model tokens/s and the peak RSS of the process.
* ``bench query`` starts ``thaigov-search serve`` as a separate process on a free loopback port
  (or targets ``--url``, loopback only), waits until ``/health`` answers ``ok``, then runs
  ``--concurrency`` client threads with keep-alive connections that send ``/search`` requests
  (hybrid by default) drawn from a list of realistic Thai and English queries, bounded by
  ``--duration`` seconds and ``--requests``. It reports throughput and latency percentiles, and the
  server's peak RSS; the server it started is stopped afterwards.

Numbers depend on the machine and on what else runs on it; docs/performance.md has measured ones.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from thaigov_search.cli.common import UsageError, settings_from
from thaigov_search.cli.load import RssSampler, Server, percentile, request_once, run_load
from thaigov_search.core.models import MODEL_HELP
from thaigov_search.core.modes import BACKENDS, MODES
from thaigov_search.store.manifest import Manifest

DEFAULT_QUERIES_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "queries.txt"


# Used when benchmarks/queries.txt is not there (an installed wheel); the file has ~50 queries.
FALLBACK_QUERIES = (
    "มติคณะรัฐมนตรี", "นายกรัฐมนตรีลงพื้นที่ตรวจราชการ", "การแก้ไขปัญหาน้ำท่วมภาคเหนือ",
    "มาตรการช่วยเหลือเกษตรกรผู้ปลูกข้าว", "การป้องกันการแพร่ระบาดของโรคโควิด 19", "ฝุ่น PM 2.5 ในกรุงเทพมหานคร",
    "ระเบียงเศรษฐกิจพิเศษภาคตะวันออก EEC", "งบประมาณรายจ่ายประจำปี", "cabinet meeting resolutions",
    "Prime Minister official visit abroad", "flood relief measures for farmers", "digital government services",
)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_REQUESTS = 1_000_000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bench indexing`` and ``bench query`` to the main parser."""
    bench = subparsers.add_parser("bench", help="Benchmarks: indexing throughput, search latency under load.",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = bench.add_subparsers(dest="bench_command", required=True)

    p = sub.add_parser("indexing", help="Index articles into a temporary index and report throughput.",
                       description="Index articles into a temporary index and report throughput.")
    p.add_argument("--input", required=True, nargs="+", metavar="FILE", help="articles (any input `index` reads)")
    p.add_argument("--limit", type=int, help="index at most N articles")
    p.add_argument("--backend", choices=BACKENDS, help="embedding backend (default torch)")
    p.add_argument("--max-passages", type=int, dest="max_passages_per_article",
                   help="embed at most N passages per article")
    p.add_argument("--batch-size", type=int, dest="batch_size", help="passages per embedding batch")
    p.add_argument("--passage-tokens", type=int, dest="passage_tokens", help="passage size in model tokens")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--keep-index", metavar="DIR", help="write the index here (must not exist) instead of a temp dir")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_bench_indexing)

    p = sub.add_parser("query", help="Load-test the search service and report latency percentiles.",
                       description="Load-test the search service and report latency percentiles.")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--index-dir", help="index to serve (a server is started on a free loopback port)")
    target.add_argument("--url", help="an already running service, e.g. http://127.0.0.1:8000 (loopback only)")
    p.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load (default 10)")
    p.add_argument("--requests", type=int, help="stop after this many requests (default: duration decides)")
    p.add_argument("--queries", type=Path, help="query file, one per line (default benchmarks/queries.txt)")
    p.add_argument("--mode", choices=MODES, default="hybrid")
    p.add_argument("--k", type=int, default=10, help="results per request (default 10)")
    p.add_argument("--warmup", type=int, default=5, help="untimed requests first (default 5)")
    p.add_argument("--startup-timeout", type=float, default=300.0, help="seconds to wait for /health (default 300)")
    p.add_argument("--backend", choices=BACKENDS, help="embedding backend of the started server")
    p.add_argument("--model", help="model spec of the started server")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_bench_query)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def cmd_bench_indexing(args: argparse.Namespace) -> int:
    result = bench_indexing(args)
    print_report(result, args.json,
                 f"indexed {result['articles']} articles ({result['passages']} passages, {result['tokens']} tokens) "
                 f"in {result['seconds']:.1f}s with {result['backend']}: {result['articles_per_s']:.2f} articles/s, "
                 f"{result['tokens_per_s']:.0f} tokens/s ({result['embed_tokens_per_s']:.0f} while embedding); "
                 f"peak RSS {result['peak_rss_mb']:.0f} MiB")
    return 0


def print_report(result: dict, as_json: bool, summary: str) -> None:
    """The result as JSON (``--json``) or as its one-line summary."""
    print(json.dumps(result, ensure_ascii=False, indent=2) if as_json else summary)


def bench_indexing(args: argparse.Namespace) -> dict:
    """Run the real indexer on the input into a throw-away index; the model loads before the clock starts."""
    from thaigov_search.embedding.embedder import Embedder
    from thaigov_search.indexing.run import run_index

    for raw in args.input:
        if not Path(raw).exists():
            raise FileNotFoundError(f"input not found: {raw}")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if args.keep_index and Path(args.keep_index).exists():
        raise UsageError(f"--keep-index {args.keep_index} already exists; give a new directory")
    settings = settings_from(args)
    load_start = time.perf_counter()
    embedder = Embedder.from_settings(settings)
    load_seconds = time.perf_counter() - load_start

    with tempfile.TemporaryDirectory(prefix="thaigov-bench-") as tmp:
        index_dir = Path(args.keep_index) if args.keep_index else Path(tmp) / "index"
        report = run_index(args.input, index_dir, settings, limit=args.limit, progress=False, embedder=embedder)

    seconds = report.seconds
    return {
        "articles": report.indexed,
        "passages": report.passages,
        "tokens": report.tokens,
        "seconds": round(seconds, 3),
        "articles_per_s": round(report.indexed / seconds, 3) if seconds else 0.0,
        "tokens_per_s": round(report.tokens / seconds, 1) if seconds else 0.0,
        "backend": settings.backend,
        "peak_rss_mb": peak_rss_mb(),
        # extras
        "embedded_passages": report.embedded_passages,
        "skipped": report.skipped,
        "embed_seconds": round(report.embed_seconds, 3),
        "embed_tokens_per_s": round(report.tokens / report.embed_seconds, 1) if report.embed_seconds else 0.0,
        "load_seconds": round(load_seconds, 2),
        "batch_size": settings.batch_size or embedder.default_batch_size,
        "passage_tokens": settings.passage_tokens,
        "max_passages_per_article": settings.max_passages_per_article,
    }


def load_queries(path: Path | None) -> list[str]:
    if path is None:
        if not DEFAULT_QUERIES_FILE.is_file():
            return list(FALLBACK_QUERIES)
        path = DEFAULT_QUERIES_FILE
    if not path.is_file():
        raise FileNotFoundError(f"query file not found: {path}")
    queries = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    queries = [q for q in queries if q and not q.startswith("#")]
    if not queries:
        raise UsageError(f"{path} has no queries (one per line; # starts a comment)")
    return queries


def cmd_bench_query(args: argparse.Namespace) -> int:
    try:
        result = bench_query(args)
    except RuntimeError as exc:  # the server did not come up; its log tail is in the message
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_report(result, args.json,
                 f"{result['requests']} requests ({result['errors']} errors) in {result['seconds']:.1f}s at concurrency "
                 f"{result['concurrency']}: {result['qps']:.1f} queries/s; latency p50 {result['p50_ms']} ms, "
                 f"p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms; {result['articles']} articles; "
                 f"server peak RSS {result['server_peak_rss_mb'] or 'n/a'} MiB")
    return 0


def bench_query(args: argparse.Namespace) -> dict:
    from thaigov_search.core.settings import Settings

    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.duration <= 0:
        raise UsageError("--duration must be positive")
    if args.requests is not None and args.requests < 1:
        raise UsageError("--requests must be at least 1")
    queries = load_queries(args.queries)
    server: Server | None = None
    sampler: RssSampler | None = None
    if args.url:
        parts = urlsplit(args.url)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK:
            raise UsageError(f"--url must be an http:// loopback address (127.0.0.1, localhost, ::1), not {args.url}")
        base_url = f"http://{parts.netloc}"
        status, body = request_once(base_url, "/health")
        if status != 200:
            raise UsageError(f"{base_url}/health did not answer 200 (got {status or 'no answer'})")
    else:
        index_dir = Path(args.index_dir)
        if not Manifest.exists(index_dir):
            raise FileNotFoundError(f"no index at {index_dir} (manifest.json missing); build one with `thaigov-search index`")
        server = Server(index_dir, args.backend, args.model)
        base_url = server.url
    try:
        if server is not None:
            sampler = RssSampler(server.proc.pid)
            sampler.start()
            server.wait_ready(args.startup_timeout)
        for i in range(max(0, args.warmup)):
            request_once(base_url, "/search?" + urlencode({"q": queries[i % len(queries)], "mode": args.mode, "k": args.k}),
                         timeout=60)
        _, stats = request_once(base_url, "/stats")
        load = run_load(base_url, queries, args.concurrency, args.duration, min(args.requests or MAX_REQUESTS, MAX_REQUESTS),
                        args.mode, args.k)
    finally:
        server_peak = sampler.peak_mb() if sampler is not None else None
        if server is not None:
            server.stop()
    done = len(load.latencies_ms)
    result = {
        "requests": done + load.errors,
        "errors": load.errors,
        "qps": round(done / load.seconds, 2) if load.seconds else 0.0,
        "p50_ms": percentile(load.latencies_ms, 50),
        "p95_ms": percentile(load.latencies_ms, 95),
        "p99_ms": percentile(load.latencies_ms, 99),
        "concurrency": args.concurrency,
        "articles": stats.get("articles"),
        "server_peak_rss_mb": server_peak,
        # extras
        "seconds": round(load.seconds, 3),
        "mean_ms": round(sum(load.latencies_ms) / done, 2) if done else None,
        "max_ms": round(max(load.latencies_ms), 2) if done else None,
        "mode": args.mode,
        "k": args.k,
        "backend": None if args.url else (args.backend or Settings().backend),
        "queries": len(queries),
    }
    if load.error_samples:
        result["error_samples"] = load.error_samples
    return result
