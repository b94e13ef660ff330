"""Plot saved benchmark results into one PNG (default docs/performance.png).

Reads JSON files written by

* ``benchmarks/embedding_backends.py --output FILE`` (embedding throughput per backend, batch size
  and passage size),
* ``thaigov-search bench indexing --json > FILE`` (end-to-end indexing throughput),
* ``thaigov-search bench query --json > FILE`` (search latency percentiles under load),

recognising each by its keys, and draws the panels it has data for::

    .venv/bin/python benchmarks/plot.py benchmarks/results/*.json --output docs/performance.png
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

BACKEND_ORDER = ["torch", "onnx", "onnx-int8"]
COLORS = {"torch": "#7f7f7f", "onnx": "#1f77b4", "onnx-int8": "#d62728"}


def load(paths: list[Path]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {"embedding": [], "indexing": [], "query": [], "suite": [], "full_index": []}
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"skipping {path}: {exc}", file=sys.stderr)
            continue
        items = data if isinstance(data, list) else [data]
        for item in items:
            if not isinstance(item, dict):
                continue
            if item.get("benchmark") == "embedding_backends":
                found["embedding"].append(item)
            elif item.get("benchmark") == "full_corpus_index":
                found["full_index"].append(item)
            elif "configs" in item and "index_dir" in item:  # benchmarks/query_suite.py
                found["suite"].append(item)
            elif "p50_ms" in item:
                found["query"].append(item | {"_file": path.stem})
            elif "articles_per_s" in item:
                found["indexing"].append(item | {"_file": path.stem})
    return found


def backend_key(name: str) -> int:
    return BACKEND_ORDER.index(name) if name in BACKEND_ORDER else len(BACKEND_ORDER)


def embedding_rows(found: dict[str, list[dict]]) -> list[dict]:
    """Every embedding row, tagged with its run's thread setting and sorting."""
    rows = []
    for run in found["embedding"]:
        settings = run.get("settings", {})
        threads = settings.get("threads", "all cores")
        for r in run["results"]:
            rows.append(r | {"_threads": "1 thread" if threads == 1 else f"{threads} threads" if isinstance(threads, int)
                             else "all cores", "_unsorted": bool(settings.get("unsorted"))})
    return rows


def series_label(row: dict, with_threads: bool) -> str:
    return f"{row['backend']} ({row['_threads']})" if with_threads else row["backend"]


def plot(found: dict[str, list[dict]], output: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    rows = embedding_rows(found)
    sorted_rows = [r for r in rows if not r["_unsorted"]]
    panels = []
    if sorted_rows:
        panels.append("embedding")
        if len({r["batch_size"] for r in sorted_rows}) > 2:
            panels.append("batch")
        if len({r["passage_tokens"] for r in sorted_rows}) > 1:
            panels.append("length")
    if any(r["_unsorted"] for r in rows):
        panels.append("sorting")
    if found["indexing"]:
        panels.append("indexing")
    if found["query"]:
        panels.append("query")
    if found["full_index"]:
        panels.append("full_index")
    if found["suite"]:
        panels.append("suite")
    if not panels:
        raise SystemExit("no benchmark results recognised in the given files")

    ncols = min(3, len(panels))
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.4 * ncols, 4.3 * nrows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        if panel == "embedding":
            # Best throughput per backend, from the runs with the most threads, at the most common passage size.
            pool = [r for r in sorted_rows if r["_threads"] == "all cores"] or sorted_rows
            size = max({r["passage_tokens"] for r in pool}, key=lambda s: sum(r["passage_tokens"] == s for r in pool))
            best: dict[str, dict] = {}
            for r in pool:
                if r["passage_tokens"] == size and r["tokens_per_s"] > best.get(r["backend"], {}).get("tokens_per_s", 0):
                    best[r["backend"]] = r
            names = sorted(best, key=backend_key)
            values = [best[n]["tokens_per_s"] for n in names]
            bars = ax.bar(names, values, color=[COLORS.get(n, "#2ca02c") for n in names])
            base = best.get("torch", {}).get("tokens_per_s")
            for bar, n in zip(bars, names, strict=True):
                label = f"{best[n]['tokens_per_s']:.0f}"
                if base:
                    label += f"\n{best[n]['tokens_per_s'] / base:.2f}×"
                label += f"\nbs {best[n]['batch_size']}"
                ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                            fontsize=8)
            ax.set_ylim(0, max(values) * 1.35)
            ax.set_title(f"Embedding throughput, {pool[0]['_threads']} ({size}-token passages)", fontsize=10)
            ax.set_ylabel("model tokens / s (best batch size)")
        elif panel in ("batch", "length"):
            key = "batch_size" if panel == "batch" else "passage_tokens"
            pool = sorted_rows
            if panel == "batch":
                pool = [r for r in pool if r["passage_tokens"] == 256] or pool
            else:  # one batch size: the one tried with the most passage sizes
                by_bs: dict[int, set] = defaultdict(set)
                for r in pool:
                    by_bs[r["batch_size"]].add(r["passage_tokens"])
                chosen = max(by_bs, key=lambda b: len(by_bs[b]))
                pool = [r for r in pool if r["batch_size"] == chosen]
            with_threads = len({r["_threads"] for r in pool}) > 1
            series: dict[str, dict[int, float]] = defaultdict(dict)
            for r in pool:
                label = series_label(r, with_threads)
                series[label][r[key]] = max(series[label].get(r[key], 0), r["tokens_per_s"])
            for label in sorted(series, key=lambda s: (backend_key(s.split(" ")[0]), s)):
                xs = sorted(series[label])
                style = "--" if "1 thread" in label and with_threads else "-"
                ax.plot(xs, [series[label][x] for x in xs], style, marker="o", label=label,
                        color=COLORS.get(label.split(" ")[0]))
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted({r[key] for r in pool}))
            ax.get_xaxis().set_major_formatter(ScalarFormatter())
            ax.set_xlabel("batch size (passages)" if panel == "batch" else "passage size (tokens, target)")
            ax.set_ylabel("model tokens / s")
            title = "Throughput vs batch size (256-token passages)" if panel == "batch" else \
                f"Throughput vs passage size (batch {pool[0]['batch_size']})"
            ax.set_title(title, fontsize=10)
            ax.set_ylim(bottom=0)
            ax.legend(fontsize=8)
        elif panel == "sorting":
            pairs = []
            for r in (r for r in rows if r["_unsorted"]):
                match = [s for s in sorted_rows if (s["backend"], s["batch_size"], s["passage_tokens"], s["_threads"])
                         == (r["backend"], r["batch_size"], r["passage_tokens"], r["_threads"])]
                if match:
                    pairs.append((f"{r['backend']}\nbs {r['batch_size']}", max(m["tokens_per_s"] for m in match),
                                  r["tokens_per_s"]))
            pairs.sort(key=lambda p: (backend_key(p[0].split("\n")[0]), p[0]))
            width = 0.38
            ax.bar([i - width / 2 for i in range(len(pairs))], [p[1] for p in pairs], width, label="sorted by length",
                   color="#1f77b4")
            ax.bar([i + width / 2 for i in range(len(pairs))], [p[2] for p in pairs], width, label="corpus order",
                   color="#aec7e8")
            for i, (_, a, b) in enumerate(pairs):
                ax.annotate(f"{b / a - 1:+.0%}", (i + width / 2, b), ha="center", va="bottom", fontsize=8)
            ax.set_xticks(range(len(pairs)), [p[0] for p in pairs], fontsize=8)
            ax.set_ylabel("model tokens / s")
            ax.set_title("Length sorting (mixed-length passages)", fontsize=10)
            ax.legend(fontsize=8)
        elif panel == "indexing":
            items = sorted(found["indexing"], key=lambda r: (backend_key(r.get("backend", "")), -r.get("batch_size", 0)))
            names = [f"{r.get('backend', r['_file'])}\nbs {r.get('batch_size', '?')}"
                     + ("\nlead only" if r.get("max_passages_per_article") == 1 else "\nall passages") for r in items]
            ax.bar(range(len(items)), [r["tokens_per_s"] for r in items],
                   color=[COLORS.get(r.get("backend", ""), "#2ca02c") for r in items])
            for i, r in enumerate(items):
                ax.annotate(f"{r['tokens_per_s']:.0f} tok/s\n{r['articles_per_s']:.1f} art/s", (i, r["tokens_per_s"]),
                            ha="center", va="bottom", fontsize=8)
            ax.set_xticks(range(len(items)), names, fontsize=8)
            ax.set_ylim(0, max(r["tokens_per_s"] for r in items) * 1.3)
            ax.set_title("End-to-end indexing (bench indexing)", fontsize=10)
            ax.set_ylabel("model tokens / s (whole run)")
        elif panel == "query":
            items = sorted(found["query"], key=lambda r: (r["concurrency"], backend_key(r.get("backend") or "")))
            labels = [f"{r.get('backend') or 'server'}\nc={r['concurrency']}" for r in items]
            width = 0.27
            for j, (pct, color) in enumerate((("p50_ms", "#2ca02c"), ("p95_ms", "#ff7f0e"), ("p99_ms", "#d62728"))):
                xs = [i + (j - 1) * width for i in range(len(items))]
                ax.bar(xs, [r[pct] or 0 for r in items], width, label=pct.replace("_ms", ""), color=color)
            for i, r in enumerate(items):
                ax.annotate(f"{r['qps']:.0f} q/s", (i + width, (r["p99_ms"] or 0)), ha="center", va="bottom", fontsize=8)
            ax.set_xticks(range(len(items)), labels, fontsize=8)
            ax.set_ylabel("latency (ms)")
            articles = {r.get("articles") for r in items}
            ax.set_title(f"Hybrid /search latency ({'/'.join(map(str, articles))} articles)", fontsize=10)
            ax.legend(fontsize=8)
        elif panel == "full_index":
            runs = found["full_index"]
            names = [r.get("label", "full corpus") for r in runs]
            ax.bar(range(len(runs)), [r["articles_per_s"] for r in runs], color="#d62728")
            for i, r in enumerate(runs):
                ax.annotate(f"{r['articles']:,} articles\n{r['wall_minutes']:.1f} min\n{r['tokens_per_s']:.0f} tok/s",
                            (i, r["articles_per_s"]), ha="center", va="bottom", fontsize=8)
            ax.set_xticks(range(len(runs)), names, fontsize=8)
            ax.set_ylim(0, max(r["articles_per_s"] for r in runs) * 1.4)
            ax.set_ylabel("articles / s (wall clock, kill + resume included)")
            ax.set_title("Whole corpus indexing run", fontsize=10)
        elif panel == "suite":
            suite = found["suite"][-1]
            bars = [(f"{c['label']}\nc={conc}", c["medians"][conc]) for conc in ("1", "8") for c in suite["configs"]
                    if conc in c["medians"]]
            width = 0.27
            for j, (pct, color) in enumerate((("p50_ms", "#2ca02c"), ("p95_ms", "#ff7f0e"), ("p99_ms", "#d62728"))):
                ax.bar([i + (j - 1) * width for i in range(len(bars))], [m[pct] for _, m in bars], width,
                       label=pct.replace("_ms", ""), color=color)
            for i, (_, m) in enumerate(bars):
                ax.annotate(f"{m['qps']:.0f} q/s", (i + width, m["p99_ms"]), ha="center", va="bottom", fontsize=8)
            ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=8)
            ax.set_yscale("log")
            ax.set_ylabel("latency (ms, log scale; medians of runs)")
            articles = suite["configs"][0].get("articles")
            ax.set_title(f"Hybrid /search over HTTP, {articles:,} articles", fontsize=10)
            ax.legend(fontsize=8)
    machine = next((run.get("machine", {}) for run in found["embedding"]), {})
    if machine:
        fig.suptitle(f"{machine.get('cpu', '?')}, {machine.get('cpus', '?')} cores, "
                     f"{machine.get('ram_gib', '?')} GiB RAM; onnxruntime {machine.get('onnxruntime', '?')}, "
                     f"torch {machine.get('torch', '?')}", fontsize=9)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=100)
    plt.close(fig)
    return panels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="JSON result files")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "performance.png")
    args = parser.parse_args(argv)
    panels = plot(load(args.results), args.output)
    print(f"wrote {args.output} ({', '.join(panels)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
