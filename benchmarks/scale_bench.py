"""Issue #13 benchmarks, one checkout against another in the same run (docs/performance.md, "Scale").

    python benchmarks/scale_bench.py --out benchmarks/results/scale \
        --checkout new=.:/tmp/idx-new --checkout main=/work/main:/tmp/idx-main [--repeats 3] [--only ready,query]

Each ``--checkout NAME=ROOT:INDEX`` runs ROOT's code (PYTHONPATH=ROOT) on INDEX (a copy per checkout:
an index written by one is not always readable by the other). Measures, per checkout:

* ``ready``: seconds from starting ``serve`` to ``/health`` 200 (wall, and the server's CPU seconds,
  which a busy machine inflates less), ``--repeats`` runs;
* ``query``: ``bench query`` (onnx-int8, hybrid, k=10) with 1 and 8 clients, 20 s each; the new
  checkout also with its query-vector cache off (``THAIGOV_SEARCH_QUERY_CACHE_SIZE=0``): the query
  file repeats its 52 queries, so the cache would answer every embedding;
* ``workers``: ``serve --workers 1`` and ``2`` (checkouts that have it) under 8 clients; QPS and each
  worker's unique (private) and proportional memory;
* ``noisy``: per backend (torch, onnx-int8), query latency with 1 client and indexing throughput
  (``bench indexing --limit 60``, lead passage) while ``cli/noisy.py`` keeps every core busy.

Every result is one JSON line in ``OUT/results.jsonl`` with the machine's load average.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(root: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THAIGOV_SEARCH_")}
    env.update(PYTHONPATH=root, THAIGOV_SEARCH_BACKEND="onnx-int8", THAIGOV_SEARCH_ANALYTICS="false")
    env.update(extra)
    return env


def health(port: int) -> int:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/health")
        return conn.getresponse().status
    except OSError:
        return 0


def start_serve(root: str, index: str, port: int, workers: int = 1, **extra: str) -> subprocess.Popen:
    cmd = [PY, "-m", "thaigov_search.cli", "serve", "--index-dir", index, "--port", str(port)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    return subprocess.Popen(cmd, env=env_for(root, **extra), cwd=root, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, 2)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, 9)
        proc.wait()


def cpu_seconds(pid: int) -> float:
    p = psutil.Process(pid)
    t = p.cpu_times()
    return t.user + t.system


def ready_once(root: str, index: str) -> dict:
    port = free_port()
    started = time.perf_counter()
    proc = start_serve(root, index, port)
    try:
        while health(port) != 200:
            if proc.poll() is not None or time.perf_counter() - started > 600:
                raise RuntimeError(f"serve of {root} did not become ready")
            time.sleep(0.05)
        return {"wall_s": round(time.perf_counter() - started, 2), "cpu_s": round(cpu_seconds(proc.pid), 2)}
    finally:
        stop(proc)


def bench_query(root: str, args: list[str], **extra: str) -> dict:
    cmd = [PY, "-m", "thaigov_search.cli", "bench", "query", "--mode", "hybrid", "--k", "10", "--json", *args]
    done = subprocess.run(cmd, env=env_for(root, **extra), cwd=root, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout)


def worker_memory(proc: subprocess.Popen) -> list[dict]:
    out = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            info = child.memory_full_info()
        except psutil.Error:
            continue
        if info.rss > 200 * 2**20:  # a worker with a model, not uvicorn's supervisor
            out.append({"pid": child.pid, "rss_mb": round(info.rss / 2**20, 1), "uss_mb": round(info.uss / 2**20, 1),
                        "pss_mb": round(info.pss / 2**20, 1), "shared_mb": round((info.rss - info.uss) / 2**20, 1)})
    return out


def workers_run(root: str, index: str, workers: int, settle_s: float = 2.0) -> dict:
    port = free_port()
    proc = start_serve(root, index, port, workers=workers)
    try:
        started = time.perf_counter()
        while health(port) != 200:
            if proc.poll() is not None or time.perf_counter() - started > 600:
                raise RuntimeError("serve --workers did not become ready")
            time.sleep(0.2)
        time.sleep(settle_s)  # the other workers finish loading, and background builds (suggestions) end
        result = bench_query(root, ["--url", f"http://127.0.0.1:{port}", "--concurrency", "8", "--duration", "20"],
                             THAIGOV_SEARCH_QUERY_CACHE_SIZE="0")
        if workers == 1:
            info = psutil.Process(proc.pid).memory_full_info()
            result["workers_memory"] = [{"pid": proc.pid, "rss_mb": round(info.rss / 2**20, 1),
                                         "uss_mb": round(info.uss / 2**20, 1), "pss_mb": round(info.pss / 2**20, 1)}]
        else:
            result["workers_memory"] = worker_memory(proc)
        return result
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--checkout", action="append", required=True, help="NAME=ROOT:INDEX")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="ready,query,workers,noisy")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds to wait after /health before measuring workers (background builds end)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    checkouts = []
    for spec in args.checkout:
        name, rest = spec.split("=", 1)
        root, index = rest.split(":", 1)
        checkouts.append((name, str(Path(root).resolve()), str(Path(index).resolve())))
    only = set(args.only.split(","))
    results = args.out / "results.jsonl"

    def record(**row) -> None:
        row.update(time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), loadavg=round(os.getloadavg()[0], 2))
        with open(results, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(json.dumps(row, ensure_ascii=False), flush=True)

    if "ready" in only:
        runs: dict[str, list[dict]] = {name: [] for name, _, _ in checkouts}
        for _ in range(args.repeats):  # interleaved, so both see the same machine
            for name, root, index in checkouts:
                runs[name].append(ready_once(root, index))
        for name, _, _ in checkouts:
            record(bench="ready", checkout=name, runs=runs[name],
                   median_wall_s=statistics.median(r["wall_s"] for r in runs[name]),
                   median_cpu_s=statistics.median(r["cpu_s"] for r in runs[name]))
    if "query" in only:
        for clients in (1, 8):
            for name, root, index in checkouts:
                variants = [("default", {})]
                if name != "main":
                    variants.append(("cache-off", {"THAIGOV_SEARCH_QUERY_CACHE_SIZE": "0"}))
                for variant, extra in variants:
                    result = bench_query(root, ["--index-dir", index, "--concurrency", str(clients), "--duration", "20"],
                                         **extra)
                    record(bench="query", checkout=name, variant=variant, clients=clients, result=result)
    if "workers" in only:
        for name, root, index in checkouts:
            if name == "main":
                continue  # no --workers there
            for workers in (1, 2):
                record(bench="workers", checkout=name, workers=workers, result=workers_run(root, index, workers, args.settle))
    if "noisy" in only:
        sample = str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "demo-sample.jsonl.gz")
        for backend in ("onnx-int8", "torch"):
            for name, root, index in checkouts:
                noisy = [PY, "-m", "thaigov_search.cli.noisy", "--"]
                q = subprocess.run(noisy + [PY, "-m", "thaigov_search.cli", "bench", "query", "--index-dir", index,
                                            "--concurrency", "1", "--duration", "20", "--backend", backend, "--json"],
                                   env=env_for(root, THAIGOV_SEARCH_QUERY_CACHE_SIZE="0"), cwd=root,
                                   capture_output=True, text=True, timeout=900)
                record(bench="noisy-query", checkout=name, backend=backend,
                       result=json.loads(q.stdout) if q.returncode == 0 else q.stderr[-1500:])
                i = subprocess.run(noisy + [PY, "-m", "thaigov_search.cli", "bench", "indexing", "--input", sample,
                                            "--limit", "60", "--max-passages", "1", "--backend", backend, "--json"],
                                   env=env_for(root), cwd=root, capture_output=True, text=True, timeout=1800)
                record(bench="noisy-indexing", checkout=name, backend=backend,
                       result=json.loads(i.stdout) if i.returncode == 0 else i.stderr[-1500:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
