"""Embedding throughput and agreement: torch float32 vs ONNX float32 vs ONNX int8.

Every backend embeds the *same* real passages (cut from the 10k-article corpus with the model's own
tokenizer, paragraph-packed up to ``--passage-tokens`` tokens, like the indexer's chunker does), so
the numbers are directly comparable. Throughput is model tokens per second (special tokens and the
``passage:`` prompt included, as the indexer counts them), the median of ``--repeats`` timed runs
after one warm-up; agreement is the cosine between each backend's vectors and torch float32's.

Examples::

    .venv/bin/python benchmarks/embedding_backends.py                       # the three backends, JSON
    .venv/bin/python benchmarks/embedding_backends.py --batch-sizes 8 16 32 64 128 --backends onnx-int8
    .venv/bin/python benchmarks/embedding_backends.py --passage-tokens 64 128 256 512 --backends torch onnx-int8
    .venv/bin/python benchmarks/embedding_backends.py --unsorted             # batches of mixed lengths
    THAIGOV_SEARCH_ONNX_THREADS=1 .venv/bin/python benchmarks/embedding_backends.py --backends onnx-int8

Prints one JSON object: machine, settings, and per (backend, batch size, passage size) a row with
``tokens_per_s`` (median), ``runs_s``, ``ratio_vs_torch`` and the cosine mean/min vs torch float32
(passages and queries).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import lzma
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("thaigov_search") is None:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "thaigov-news-10k.jsonl.xz"
QUERIES = Path(__file__).with_name("queries.txt")


def emit(result: dict, output: Path | None) -> None:
    """Print the result JSON, and write it to ``output`` when given."""
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")


def load_articles(path: Path, limit: int) -> list[str]:
    """The first ``limit`` article texts (the 10k file is already a random sample)."""
    opener = lzma.open if path.suffix == ".xz" else open
    texts = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                texts.append(json.loads(line)["text"])
            if len(texts) >= limit:
                break
    return texts


def make_passages(texts: list[str], tokenizer, target: int, count: int, per_article: int = 2) -> list[str]:
    """Pack paragraphs into passages of at most ``target`` tokens; long paragraphs are cut by tokens."""
    passages: list[str] = []
    for text in texts:
        paragraphs = [p.strip() for p in text.split("\n") if len(p.strip()) > 1]
        taken, current, current_len = 0, [], 0
        pieces: list[str] = []
        for para in paragraphs:
            enc = tokenizer(para, add_special_tokens=False, return_offsets_mapping=True)
            n = len(enc["input_ids"])
            if n > target:
                if current:
                    pieces.append(" ".join(current))
                    current, current_len = [], 0
                offsets = enc["offset_mapping"]
                for start in range(0, n, target):
                    window = offsets[start:start + target]
                    pieces.append(para[window[0][0]:window[-1][1]])
                continue
            if current_len + n > target and current:
                pieces.append(" ".join(current))
                current, current_len = [], 0
            current.append(para)
            current_len += n
        if current:
            pieces.append(" ".join(current))
        for piece in pieces:
            if taken >= per_article or len(passages) >= count:
                break
            passages.append(piece)
            taken += 1
        if len(passages) >= count:
            break
    return passages


def load_queries() -> list[str]:
    lines = QUERIES.read_text(encoding="utf-8").splitlines()
    return [q.strip() for q in lines if q.strip() and not q.startswith("#")]


def machine() -> dict:
    info = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
        info["avx512_vnni"] = "avx512_vnni" in flags
    except (OSError, StopIteration):
        pass
    try:
        import psutil

        info["ram_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    import onnxruntime
    import torch

    info |= {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
             "onnxruntime": onnxruntime.__version__}
    return info


def timed_run(embed, texts: list[str], batch_size: int, unsorted: bool) -> tuple[float, float, np.ndarray]:
    """Wall and process-CPU seconds of one run, and its vectors (input order)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    if unsorted:
        # One call per batch: no sorting across batches, so each batch pads to its longest member.
        vectors = np.concatenate([embed(texts[i:i + batch_size], batch_size) for i in range(0, len(texts), batch_size)])
    else:
        vectors = embed(texts, batch_size)
    return time.perf_counter() - start, time.process_time() - cpu_start, vectors


def main(argv: list[str] | None = None) -> int:
    from thaigov_search.core.modes import BACKENDS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--passages", type=int, default=200, help="passages to embed (default 200)")
    parser.add_argument("--passage-tokens", type=int, nargs="+", default=[256], help="passage sizes to try")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--unsorted", action="store_true", help="embed batch by batch in corpus order (no length sorting)")
    parser.add_argument("--threads", type=int, help="torch and ONNX Runtime threads (default: all cores)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)

    from thaigov_search.core.settings import Settings
    from thaigov_search.embedding.embedder import Embedder, quiet_libraries

    quiet_libraries()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        os.environ["THAIGOV_SEARCH_ONNX_THREADS"] = str(args.threads)
    settings = Settings()
    backends = list(dict.fromkeys(["torch", *args.backends]))  # torch first: the reference
    loaded = {}
    load_s = {}
    for backend in backends:
        start = time.perf_counter()
        loaded[backend] = Embedder(args.model, settings.home, backend=backend)
        load_s[backend] = round(time.perf_counter() - start, 2)
    tokenizer = loaded["torch"].tokenizer
    articles = load_articles(args.corpus, limit=max(400, args.passages * 2))
    queries = load_queries()

    rows = []
    for target in args.passage_tokens:
        passages = make_passages(articles, tokenizer, target, args.passages)
        random.Random(0).shuffle(passages)  # mixed lengths in every batch unless sorted
        tokens = sum(loaded["torch"].count_tokens_many(passages))
        reference = {}
        for batch_size in args.batch_sizes:
            for backend in backends:  # warm-up
                loaded[backend].embed_passages(passages[:16], batch_size=batch_size)
            # Rounds interleave the backends, so a change in machine load hits all of them alike.
            runs: dict[str, list[tuple[float, float]]] = {b: [] for b in backends}
            vectors_of: dict[str, np.ndarray] = {}
            load_before = os.getloadavg()[0]
            for _ in range(args.repeats):
                for backend in backends:
                    emb = loaded[backend]
                    wall, cpu_s, vectors_of[backend] = timed_run(
                        lambda t, b, e=emb: e.embed_passages(t, batch_size=b), passages, batch_size, args.unsorted)
                    runs[backend].append((wall, cpu_s))
            load_after = os.getloadavg()[0]
            for backend in backends:
                emb, vectors = loaded[backend], vectors_of[backend]
                times = [w for w, _ in runs[backend]]
                median = statistics.median(times)
                cpu_median = statistics.median(c for _, c in runs[backend])
                row = {
                    "backend": backend, "batch_size": batch_size, "passage_tokens": target,
                    "passages": len(passages), "tokens": tokens, "runs_s": [round(t, 3) for t in times],
                    "median_s": round(median, 3), "tokens_per_s": round(tokens / median, 1),
                    "passages_per_s": round(len(passages) / median, 2),
                    "cpu_s": round(cpu_median, 3), "tokens_per_cpu_s": round(tokens / cpu_median, 1),
                    "load_average_1min": [round(load_before, 2), round(load_after, 2)],
                }
                if backend == "torch" and "passages" not in reference:
                    reference["passages"] = vectors
                    reference["queries"] = emb.embed_queries(queries)
                if backend == "torch":  # the baseline for this batch size and passage size
                    reference["tokens_per_s"] = row["tokens_per_s"]
                    reference["tokens_per_cpu_s"] = row["tokens_per_cpu_s"]
                row["ratio_vs_torch"] = round(row["tokens_per_s"] / reference["tokens_per_s"], 2)
                row["cpu_ratio_vs_torch"] = round(row["tokens_per_cpu_s"] / reference["tokens_per_cpu_s"], 2)
                cos_p = np.sum(vectors * reference["passages"], axis=1)
                cos_q = np.sum(emb.embed_queries(queries) * reference["queries"], axis=1)
                row |= {
                    "cosine_passages_mean": round(float(cos_p.mean()), 5), "cosine_passages_min": round(float(cos_p.min()), 5),
                    "cosine_queries_mean": round(float(cos_q.mean()), 5), "cosine_queries_min": round(float(cos_q.min()), 5),
                }
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)

    result = {
        "benchmark": "embedding_backends",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "settings": {"model": args.model, "repeats": args.repeats, "unsorted": args.unsorted,
                     "threads": args.threads or "all cores", "queries": len(queries), "corpus": args.corpus.name,
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
        "load_seconds": load_s,
        "results": rows,
    }
    emit(result, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
