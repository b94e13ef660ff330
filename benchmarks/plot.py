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
    found: dict[str, list[dict]] = {"embedding": [], "indexing": [], "query": []}
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
            elif "p50_ms" in item:
                found["query"].append(item | {"_file": path.stem})
            elif "articles_per_s" in item:
                found["indexing"].append(item | {"_file": path.stem})
    return found


def backend_key(name: str) -> int:
    return BACKEND_ORDER.index(name) if name in BACKEND_ORDER else len(BACKEND_ORDER)


def plot(found: dict[str, list[dict]], output: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for run in found["embedding"] for r in run["results"]]
    panels = []
    if rows:
        panels.append("embedding")
        if len({r["batch_size"] for r in rows}) > 1:
            panels.append("batch")
        if len({r["passage_tokens"] for r in rows}) > 1:
            panels.append("length")
    if found["indexing"]:
        panels.append("indexing")
    if found["query"]:
        panels.append("query")
    if not panels:
        raise SystemExit("no benchmark results recognised in the given files")

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "embedding":
            # Best (highest) throughput per backend at the most common passage size.
            size = max({r["passage_tokens"] for r in rows}, key=lambda s: sum(r["passage_tokens"] == s for r in rows))
            best: dict[str, dict] = {}
            for r in rows:
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
            ax.set_title(f"Embedding throughput ({size}-token passages)")
            ax.set_ylabel("model tokens / s (best batch size)")
        elif panel in ("batch", "length"):
            key = "batch_size" if panel == "batch" else "passage_tokens"
            series: dict[str, dict[int, float]] = defaultdict(dict)
            for r in rows:
                series[r["backend"]][r[key]] = max(series[r["backend"]].get(r[key], 0), r["tokens_per_s"])
            for name in sorted(series, key=backend_key):
                xs = sorted(series[name])
                ax.plot(xs, [series[name][x] for x in xs], marker="o", label=name, color=COLORS.get(name))
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted({r[key] for r in rows}))
            ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.set_xlabel("batch size (passages)" if panel == "batch" else "passage size (tokens)")
            ax.set_ylabel("model tokens / s")
            ax.set_title("Throughput vs batch size" if panel == "batch" else "Throughput vs passage size")
            ax.set_ylim(bottom=0)
            ax.legend()
        elif panel == "indexing":
            items = sorted(found["indexing"], key=lambda r: backend_key(r.get("backend", "")))
            names = [r.get("backend", r["_file"]) for r in items]
            ax.bar(names, [r["tokens_per_s"] for r in items], color=[COLORS.get(n, "#2ca02c") for n in names])
            for i, r in enumerate(items):
                ax.annotate(f"{r['tokens_per_s']:.0f} tok/s\n{r['articles_per_s']:.2f} art/s", (i, r["tokens_per_s"]),
                            ha="center", va="bottom", fontsize=8)
            ax.set_ylim(0, max(r["tokens_per_s"] for r in items) * 1.3)
            ax.set_title("End-to-end indexing (bench indexing)")
            ax.set_ylabel("model tokens / s (whole run)")
        elif panel == "query":
            items = sorted(found["query"], key=lambda r: (backend_key(r.get("backend") or ""), r["concurrency"]))
            labels = [f"{r.get('backend') or 'server'}\nc={r['concurrency']}" for r in items]
            width = 0.27
            for j, (pct, color) in enumerate((("p50_ms", "#2ca02c"), ("p95_ms", "#ff7f0e"), ("p99_ms", "#d62728"))):
                xs = [i + (j - 1) * width for i in range(len(items))]
                ax.bar(xs, [r[pct] or 0 for r in items], width, label=pct.replace("_ms", ""), color=color)
            for i, r in enumerate(items):
                ax.annotate(f"{r['qps']:.1f} q/s", (i, (r["p99_ms"] or 0)), ha="center", va="bottom", fontsize=8)
            ax.set_xticks(range(len(items)), labels, fontsize=8)
            ax.set_ylabel("latency (ms)")
            ax.set_title("Hybrid /search latency under load")
            ax.legend()
    machine = next((run.get("machine", {}) for run in found["embedding"]), {})
    if machine:
        fig.suptitle(f"{machine.get('cpu', '?')}, {machine.get('cpus', '?')} cores, "
                     f"{machine.get('ram_gib', '?')} GiB RAM", fontsize=9)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
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
