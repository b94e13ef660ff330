"""``thaigov-search adapt``: fine-tune the embedding model on pairs mined from the user's own corpus.

Pipeline: parse the ``--corpus`` releases (minus ``--exclude``), link English <-> Thai twins
(:mod:`thaigov_search.indexing.twins`), mine (query, positive) pairs
(:mod:`thaigov_search.indexing.adapt_pairs`), then train (:mod:`thaigov_search.embedding.training`).
The output is an ordinary sentence-transformers folder that ``--model DIR`` takes everywhere.
LoRA (the default method) needs the optional ``peft``: ``pip install "thaigov-search[adapt]"``;
without it this command says so before any work, and every other command (and --help) is unaffected.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from thaigov_search.cli.common import UsageError, settings_from
from thaigov_search.core.models import MODEL_HELP
from thaigov_search.embedding.training import METHODS, PEFT_MISSING, peft_available


def mine(args: argparse.Namespace, settings) -> tuple[list, list]:
    """Parse, link twins, mine pairs; returns (pairs, twins)."""
    from thaigov_search.embedding.embedder import Embedder
    from thaigov_search.indexing.adapt_pairs import load_articles, load_articles_cached, mine_pairs, read_ids
    from thaigov_search.indexing.twins import TWIN_MODEL, Twin, find_twins, load_twins

    exclude = read_ids(args.exclude) if args.exclude else set()
    if args.parsed_cache:
        articles = load_articles_cached(args.corpus, exclude, args.parsed_cache, progress=not args.quiet)
    else:
        articles = load_articles(args.corpus, exclude, progress=not args.quiet, limit=args.limit)
    if not articles:
        raise ValueError("the corpus has no releases left after --exclude")
    twins: list[Twin] = []
    if args.twins:
        twins = load_twins(args.twins)
    elif not args.no_twins:
        embedder = Embedder(TWIN_MODEL, settings.home, backend=args.twin_backend)  # its cosines set the threshold
        twins = find_twins(
            articles,
            lambda texts: embedder.embed_passages(texts, batch_size=16, show_progress=not args.quiet),
            progress=not args.quiet,
        )
    pairs = mine_pairs(articles, twins, args.pairs, args.seed)
    return pairs, twins


def cmd_adapt(args: argparse.Namespace) -> int:
    from thaigov_search.embedding.default_model import resolve_model
    from thaigov_search.embedding.training import train
    from thaigov_search.indexing.adapt_pairs import load_pairs, load_pairs_meta, save_pairs

    if args.pairs_file is None and not args.corpus:
        raise UsageError("give --corpus FILE... to mine pairs from, or --pairs-file from an earlier --save-pairs")
    if args.pairs < 64:
        raise UsageError("--pairs must be at least 64")
    if args.method == "lora" and not args.mine_only and not peft_available():
        raise UsageError(PEFT_MISSING)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    settings = settings_from(args)
    t0 = time.perf_counter()
    meta: dict = {"corpus": [str(p) for p in args.corpus or []], "exclude": [str(p) for p in args.exclude or []]}
    if args.pairs_file:
        pairs = load_pairs(Path(args.pairs_file))[: args.pairs]
        meta = {**load_pairs_meta(Path(args.pairs_file)), "pairs_file": str(args.pairs_file)}
    else:
        pairs, twins = mine(args, settings)
        meta.update(twins=len(twins), mining_seed=args.seed, pairs_mined=len(pairs))
        if args.save_pairs:
            save_pairs(pairs, Path(args.save_pairs), meta)
    meta["load_seconds" if args.pairs_file else "mining_seconds"] = round(time.perf_counter() - t0, 1)
    if args.mine_only:
        print(json.dumps({"pairs": len(pairs), **meta}, ensure_ascii=False))
        return 0
    if args.out is None:
        raise UsageError("--out DIR is required unless --mine-only")
    base = resolve_model(settings.model, settings.home)
    summary = train(
        pairs,
        base,
        Path(args.out),
        method=args.method,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        max_seq_length=args.max_seq_length,
        scale=args.scale,
        lora_rank=args.lora_rank,
        train_layers=args.train_layers,
        query_max_length=args.query_max_length,
        seed=args.seed,
        device=args.device,
        max_steps=args.max_steps,
        warmup_steps=args.warmup_steps,
        time_limit_s=args.time_limit * 60 if args.time_limit else None,
        progress=not args.quiet,
        metadata=meta,
    )
    print(json.dumps(summary, ensure_ascii=False, indent=None if args.json else 2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "adapt",
        help="Fine-tune the embedding model on pairs mined from your own corpus.",
        description=__doc__.split("\n\n")[0] + " Writes a model folder for --model.",
    )
    p.set_defaults(func=cmd_adapt)
    p.add_argument("--corpus", nargs="+", type=Path, help="releases to mine pairs from (JSONL, .xz, .txt dirs)")
    p.add_argument("--exclude", nargs="+", type=Path,
                   help="files whose record ids are never trained on (e.g. the evaluation corpus)")
    p.add_argument("--out", type=Path, help="output model folder")
    p.add_argument("--model", help="the model to adapt: " + MODEL_HELP + " (the shipped adapter was trained from e5-small)")
    p.add_argument("--pairs", type=int, default=20000, help="pair budget (default 20000)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--method", choices=METHODS, default="lora")
    p.add_argument("--lora", dest="method", action="store_const", const="lora", help="same as --method lora")
    p.add_argument("--full", dest="method", action="store_const", const="full", help="same as --method full")
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--train-layers", type=int, help="train only the top N encoder layers (default: all)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, help="learning rate (default 2e-4 for LoRA, 2e-5 otherwise)")
    p.add_argument("--scale", type=float, default=50.0, help="MNRL similarity scale (1/temperature)")
    p.add_argument("--max-seq-length", type=int, default=128, help="passage tokens in training")
    p.add_argument("--query-max-length", type=int, default=64)
    p.add_argument("--seed", type=int, default=20261203)
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--max-steps", type=int, help="stop after N optimizer steps")
    p.add_argument("--warmup-steps", type=int, default=10, help="linear warm-up steps, then a constant rate")
    p.add_argument("--time-limit", type=float, metavar="MIN",
                   help="stop training after MIN minutes and save (ADAPT.json records the steps done; "
                   "--max-steps with that number reproduces the run)")
    p.add_argument("--limit", type=int, help="read at most N corpus records")
    p.add_argument("--no-twins", action="store_true", help="skip English<->Thai twin pairs")
    p.add_argument("--twins", type=Path, help="twins JSONL from scripts/mine_twins.py instead of linking them here")
    p.add_argument("--parsed-cache", type=Path, help="keep parsed releases in this .jsonl.gz and reuse them")
    p.add_argument("--twin-backend", choices=["torch", "onnx", "onnx-int8"], default="onnx-int8",
                   help="backend for twin similarity (default onnx-int8, the fastest on CPU)")
    p.add_argument("--save-pairs", type=Path, help="write the mined pairs (JSONL) here")
    p.add_argument("--pairs-file", type=Path, help="train on pairs saved by --save-pairs instead of mining")
    p.add_argument("--mine-only", action="store_true", help="mine (and --save-pairs) without training")
    p.add_argument("--json", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
