"""Query benchmarks against real `serve` processes: several configurations, repeated runs, medians.

For each configuration one server is started (`thaigov_search.cli.load.Server`, the same one
`thaigov-search bench query` uses) and kept for all its runs, so its start-up (model load, BM25
load) is paid and measured once. Each run is a separate `thaigov-search bench query --url ...`
process (the load generator is never the server). The server's peak RSS is the kernel's
high-water mark (VmHWM) after all runs. The first configuration is the baseline for the ratios.

    python benchmarks/query_suite.py --index-dir /srv/full-index --repeats 3 --duration 30 \
        --config baseline:backend=torch,lexical=fts5 --config fast:backend=onnx-int8,lexical=memory \
        --output benchmarks/results/query-suite-full.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from thaigov_search.cli.load import Server

METRICS = ("qps", "p50_ms", "p95_ms", "p99_ms")


def parse_config(text: str) -> tuple[str, dict[str, str]]:
    """'label:backend=onnx-int8,lexical=memory' -> (label, environment of the server)."""
    label, _, spec = text.partition(":")
    env: dict[str, str] = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        name = {"backend": "THAIGOV_SEARCH_BACKEND", "lexical": "THAIGOV_SEARCH_LEXICAL_ENGINE"}.get(key)
        if name is None:
            raise SystemExit(f"unknown config key {key!r} in {text!r} (use backend=..., lexical=...)")
        env[name] = value
    return label, env


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def run_bench(url: str, concurrency: int, duration: float, queries: Path | None) -> dict:
    cmd = [sys.executable, "-m", "thaigov_search.cli", "bench", "query", "--url", url, "--concurrency", str(concurrency),
           "--duration", str(duration), "--json"]
    if queries:
        cmd += ["--queries", str(queries)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--config", action="append", required=True, help="label:backend=...,lexical=...")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--queries", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    report: dict = {"index_dir": str(args.index_dir), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "load_average_before": os.getloadavg(), "configs": []}
    for text in args.config:
        label, env = parse_config(text)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            started = time.perf_counter()
            server = Server(args.index_dir, None, None)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        try:
            server.wait_ready(600)
            startup_s = time.perf_counter() - started
            runs = []
            for repeat in range(args.repeats):
                for concurrency in args.concurrency:
                    result = run_bench(server.url, concurrency, args.duration, args.queries)
                    result.update(repeat=repeat)
                    runs.append(result)
                    print(f"{label} c={concurrency} #{repeat}: {result['qps']} q/s, p50 {result['p50_ms']} ms, "
                          f"p99 {result['p99_ms']} ms, errors {result['errors']}", file=sys.stderr)
            peak = peak_rss_mb(server.proc.pid)
        finally:
            server.stop()
        medians = {}
        for concurrency in args.concurrency:
            mine = [r for r in runs if r["concurrency"] == concurrency]
            medians[str(concurrency)] = {m: statistics.median(r[m] for r in mine) for m in METRICS}
            medians[str(concurrency)]["errors"] = sum(r["errors"] for r in mine)
            medians[str(concurrency)]["requests"] = sum(r["requests"] for r in mine)
        report["configs"].append({"label": label, "env": env, "startup_s": round(startup_s, 1),
                                  "server_peak_rss_mb": peak, "articles": runs[0]["articles"],
                                  "medians": medians, "runs": runs})
    base = report["configs"][0]
    for config in report["configs"][1:]:
        config["ratio_vs_" + base["label"]] = {
            c: {m: round(config["medians"][c][m] / base["medians"][c][m], 2) if base["medians"][c][m] else None
                for m in METRICS}
            for c in config["medians"]
        }
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
