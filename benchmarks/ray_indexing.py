#!/usr/bin/env python
"""`index --ray` with 1 and 2 workers against the single-machine run, in the same session.

Starts one local Ray cluster (``--cpus`` CPUs, in a temporary directory), then, ``--repeats`` times and
interleaved so that a busy neighbour hurts every configuration alike, indexes the first ``--limit``
releases of ``--input`` into a fresh temporary index with:

* ``local``: the single-machine path (`run_index`, model loaded before the clock, like
  `thaigov-search bench indexing`; ONNX Runtime / torch use all the process may use);
* ``ray-1`` / ``ray-2``: `run_index(..., ray_address=...)` with 1 or 2 Ray workers of 1 CPU each; the
  driver in this process is the writer.

Per run: ``seconds`` = the indexing itself (records in → last commit and snapshot; for Ray after the
workers have loaded their models), ``start_s`` = Ray worker start-up (model load in each worker) and
``wall_s`` = both. Medians over the repeats, ratio of articles/s to ``local``. Output: a JSON file and a
Markdown table (docs/performance.md, "Indexing on Ray").

    python benchmarks/ray_indexing.py --limit 200 --repeats 3 --stages --output benchmarks/results/ray-indexing.json

``--stages`` adds each stage's cost per article measured alone in this process (parse/chunk/tokenise,
embed, the writer's commit): the commit rate is the ceiling of any number of workers (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from thaigov_search.core.settings import Settings  # noqa: E402
from thaigov_search.embedding.embedder import Embedder, quiet_libraries  # noqa: E402
from thaigov_search.indexing.run import run_index  # noqa: E402

DEFAULT_INPUT = REPO.parent / "shared" / "data" / "thaigov-news-10k.jsonl.xz"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def one_run(config: str, inputs: list[Path], settings: Settings, limit: int, embedder: Embedder,
            address: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"ray-bench-{config}-") as tmp:
        started = time.perf_counter()
        if config == "local":
            report = run_index(inputs, Path(tmp) / "index", settings, limit=limit, progress=False, embedder=embedder)
        else:
            workers = int(config.split("-")[1])
            report = run_index(inputs, Path(tmp) / "index", settings.model_copy(update={"ray_workers": workers}),
                               limit=limit, progress=False, ray_address=address)
        wall = time.perf_counter() - started
    return {"config": config, "seconds": round(report.seconds, 3), "wall_s": round(wall, 3),
            "start_s": round(wall - report.seconds, 3) if config != "local" else 0.0,
            "indexed": report.indexed, "embedded_passages": report.embedded_passages, "tokens": report.tokens,
            "articles_per_s": round(report.indexed / report.seconds, 3), "loadavg_1m": round(os.getloadavg()[0], 2)}


def stage_costs(inputs: list[Path], settings: Settings, limit: int, embedder: Embedder) -> dict:
    """Per-article cost of each stage, one process, no overlap: what a worker does without the model
    (parse, skip check, chunk, BM25 tokens), the model, and the one writer's commits; the final
    snapshot (vectors and BM25 postings rebuilt from the whole index, once per run) apart.
    The commit rate is the ceiling of `index --ray`: however many workers, one writer commits."""
    from thaigov_search.indexing.pipeline import Indexer, IndexReport, batched
    from thaigov_search.indexing.sources import ReadStats, iter_records

    records = list(iter_records(inputs, ReadStats(), limit=limit))
    with tempfile.TemporaryDirectory(prefix="ray-bench-stages-") as tmp:
        worker = Indexer(Path(tmp) / "unused", settings, embedder)  # never opens a writer
        prepared, report = [], IndexReport()
        prepare_s = embed_s = 0.0
        for batch in batched(records, settings.commit_every):
            started = time.perf_counter()
            batch_prepared = worker.prepare_records(batch, report, {})
            prepare_s += time.perf_counter() - started
            started = time.perf_counter()
            prepared.append((batch_prepared, worker.embed(batch_prepared, report)))
            embed_s += time.perf_counter() - started
        writer, written = Indexer(Path(tmp) / "index", settings, embedder), IndexReport()
        started = time.perf_counter()
        for batch_prepared, vectors in prepared:
            writer.commit(batch_prepared, vectors, written)
        commit_s = time.perf_counter() - started
        started = time.perf_counter()
        writer.finish(False)  # once per run, but it rebuilds the whole snapshot: grows with the index
        snapshot_s = time.perf_counter() - started
        writer.close()
        size = sum(f.stat().st_size for f in (Path(tmp) / "index").iterdir())
    n = written.indexed
    return {"articles": n, "prepare_ms_per_article": round(1000 * prepare_s / n, 2),
            "embed_ms_per_article": round(1000 * embed_s / n, 2), "commit_ms_per_article": round(1000 * commit_s / n, 2),
            "writer_ceiling_articles_per_s": round(n / commit_s, 1),
            "final_snapshot_s": round(snapshot_s, 3), "index_bytes_per_article": round(size / n),
            "loadavg_1m": round(os.getloadavg()[0], 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--max-passages", type=int, default=1)
    parser.add_argument("--commit-every", type=int, default=20,
                        help="articles per batch (= per commit, per task): 200 articles in batches of 200 would "
                             "give one worker all the work")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    parser.add_argument("--configs", nargs="+", default=["local", "ray-1", "ray-2"])
    parser.add_argument("--stages", action="store_true", help="also time each stage alone (prepare, embed, commit)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    quiet_libraries()

    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    settings = Settings(backend=args.backend, max_passages_per_article=args.max_passages, analytics=False,
                        commit_every=args.commit_every)
    embedder = Embedder.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="ray-bench-cluster-") as ray_tmp:
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                 object_store_memory=256 * 1024 * 1024, _temp_dir=ray_tmp)
        address = ray.get_runtime_context().gcs_address
        runs = []
        try:
            for repeat in range(args.repeats):
                for config in args.configs:
                    run = one_run(config, [args.input], settings, args.limit, embedder, address) | {"repeat": repeat}
                    print(json.dumps(run), file=sys.stderr)
                    runs.append(run)
        finally:
            ray.shutdown()

    summary = {}
    for config in args.configs:
        mine = [r for r in runs if r["config"] == config]
        summary[config] = {k: statistics.median(r[k] for r in mine)
                           for k in ("seconds", "start_s", "wall_s", "articles_per_s")}
    base = summary[args.configs[0]]["articles_per_s"]
    for values in summary.values():
        values["ratio_vs_" + args.configs[0]] = round(values["articles_per_s"] / base, 3)
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "ray": ray.__version__},
        "input": str(args.input), "limit": args.limit, "commit_every": args.commit_every, "backend": args.backend, "max_passages": args.max_passages,
        "ray_cpus": args.cpus, "repeats": args.repeats, "summary": summary, "runs": runs,
    }
    if args.stages:
        result["stages"] = stage_costs([args.input], settings, args.limit, embedder)
        print(json.dumps(result["stages"]), file=sys.stderr)
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| configuration | indexing s | worker start s | wall s | articles/s | vs {args.configs[0]} |")
    print("|---|---:|---:|---:|---:|---:|")
    for config, v in summary.items():
        print(f"| {config} | {v['seconds']:.1f} | {v['start_s']:.1f} | {v['wall_s']:.1f} | {v['articles_per_s']:.2f} "
              f"| {v['ratio_vs_' + args.configs[0]]:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
