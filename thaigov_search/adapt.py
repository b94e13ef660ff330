"""``thaigov-search adapt``: contrastive fine-tuning of the embedding model on the user's corpus.

Pipeline: parse the ``--corpus`` releases (minus ``--exclude``), link English <-> Thai twins
(:mod:`indexer.twins`), mine (query, positive) pairs (:mod:`thaigov_search.adapt_pairs`), then train
with sentence-transformers' :class:`MultipleNegativesRankingLoss` (in-batch negatives, batches drawn
from one month so that the negatives are same-period releases). Queries get the model's ``query``
prompt and positives its ``passage`` prompt, exactly as the indexer and the searcher use them.

Three ways to train (``--method``), all producing an ordinary sentence-transformers folder that
``--model DIR`` takes everywhere (index, eval, serve, the ONNX backends):

* ``lora`` (default): a LoRA adapter (rank ``--lora-rank``) on every attention and feed-forward
  projection, merged into the weights when saved; the adapter alone is also saved under
  ``adapter/`` (about 2 MB at rank 16), which is what a package can ship;
* ``frozen-embeddings``: all encoder layers train, the 96M-parameter word-embedding matrix stays
  frozen (its rows for Thai and English tokens would otherwise drift on a small corpus);
* ``full``: everything trains.

The run is deterministic for a given ``--seed`` on one device and thread count; it uses CUDA
when available. Progress is a tqdm bar over optimizer steps.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

log = logging.getLogger(__name__)

METHODS = ("lora", "frozen-embeddings", "full")
LORA_TARGETS = ["query", "key", "value", "dense"]


def pick_device(requested: str | None = None) -> str:
    """The requested device, else CUDA when there is one, else CPU."""
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def save_pairs(pairs, path: Path, meta: dict | None = None) -> None:
    """Pairs as JSONL, and next to them (``FILE.meta.json``) where they came from, so a model trained
    from ``--pairs-file`` still records its corpus, exclusions, seed and twin count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
    _meta_path(path).write_text(json.dumps(meta or {}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def load_pairs_meta(path: Path) -> dict:
    meta = _meta_path(path)
    return json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}


def load_pairs(path: Path):
    from thaigov_search.adapt_pairs import Pair

    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            d["group"] = tuple(d["group"])
            out.append(Pair(**d))
    return out


def train(
    pairs,
    base: str,
    out: Path,
    *,
    method: str = "lora",
    epochs: int = 1,
    batch_size: int = 32,
    lr: float | None = None,
    max_seq_length: int = 128,
    scale: float = 50.0,
    lora_rank: int = 16,
    train_layers: int | None = None,
    query_max_length: int = 64,
    seed: int = 20261203,
    device: str | None = None,
    max_steps: int | None = None,
    warmup_steps: int = 10,
    time_limit_s: float | None = None,
    progress: bool = True,
    metadata: dict | None = None,
) -> dict:
    """Fine-tune ``base`` on ``pairs`` and save a sentence-transformers folder at ``out``.

    Returns a summary (steps, pairs, seconds, tokens per second, final loss) that is also written to
    ``out/ADAPT.json`` together with ``metadata``.
    """
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from tqdm import tqdm

    from thaigov_search.adapt_pairs import make_batches

    if method not in METHODS:
        raise ValueError(f"unknown --method {method!r}: choose one of {', '.join(METHODS)}")
    if not pairs:
        raise ValueError("no training pairs: the corpus gave none (is it empty or all excluded?)")
    lr = lr if lr is not None else (2e-4 if method == "lora" else 2e-5)
    device = pick_device(device)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

    model = SentenceTransformer(base, device=device)
    base_max_length = model.max_seq_length  # restored before saving: indexing uses the model's own limit
    model.max_seq_length = max_seq_length
    prompts = getattr(model, "prompts", {}) or {}
    q_prompt = prompts.get("query", "")
    p_prompt = prompts.get("passage", prompts.get("document", ""))
    module = model[0]
    n_layers = int(module.model.config.num_hidden_layers)
    top = list(range(n_layers - train_layers, n_layers)) if train_layers else list(range(n_layers))
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        cfg = LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank, lora_dropout=0.0, target_modules=LORA_TARGETS,
                         layers_to_transform=top)
        module.model = get_peft_model(module.model, cfg)
    else:
        # Only the top ``train_layers`` layers train: autograd then stops there, which on CPU saves
        # the backward pass through the lower layers (the most expensive part of a step).
        for name, p in module.model.named_parameters():
            in_top = any(f"encoder.layer.{i}." in name for i in top)
            if method == "frozen-embeddings" and "embeddings.word_embeddings" in name:
                p.requires_grad = False
            elif train_layers and not in_top:
                p.requires_grad = False
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    log.info("method %s: %d trainable parameters, device %s", method, n_trainable, device)

    loss_fn = MultipleNegativesRankingLoss(model, scale=scale)
    batches = [b for e in range(epochs) for b in make_batches(pairs, batch_size, seed + e)]
    if max_steps is not None:
        batches = batches[:max_steps]
    if not batches:
        raise ValueError(f"{len(pairs)} pairs make no full batch of {batch_size}: mine more pairs or lower --batch-size")
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)

    # Linear warm-up, then constant: the schedule does not depend on the planned total, so a run
    # stopped by ``time_limit_s`` after N steps is exactly the run ``max_steps=N`` would give.
    def lr_at(step: int) -> float:
        return min(1.0, (step + 1) / warmup_steps)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    model.train()
    tokens = 0
    losses: list[float] = []
    t0 = time.perf_counter()
    bar = tqdm(batches, desc=f"adapt ({method})", unit="step", disable=not progress)
    stopped_early = False
    for batch in bar:
        if time_limit_s is not None and time.perf_counter() - t0 > time_limit_s:
            stopped_early = True
            log.warning("time limit reached after %d of %d steps; saving", len(losses), len(batches))
            break
        model.max_seq_length = query_max_length  # queries are headlines; cap the rare long one
        q = model.preprocess([q_prompt + p.query for p in batch])
        model.max_seq_length = max_seq_length
        d = model.preprocess([p_prompt + p.positive for p in batch])
        tokens += int(q["attention_mask"].sum()) + int(d["attention_mask"].sum())
        feats = [{k: v.to(device) if hasattr(v, "to") else v for k, v in f.items()} for f in (q, d)]
        loss = loss_fn(feats, None)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
        if len(losses) % 10 == 0:
            bar.set_postfix(loss=f"{sum(losses[-10:]) / 10:.3f}")
    seconds = time.perf_counter() - t0
    model.eval()
    model.max_seq_length = base_max_length

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    adapter_bytes = None
    if method == "lora":
        adapter_dir = out / "adapter"
        module.model.save_pretrained(str(adapter_dir))
        adapter_bytes = sum(f.stat().st_size for f in adapter_dir.rglob("*") if f.is_file())
        module.model = module.model.merge_and_unload()
    model.save(str(out))
    done = batches[: len(losses)]
    kinds = Counter(p.kind for b in done for p in b)
    summary = {
        "method": method,
        "base": base,
        "seed": seed,
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "pairs": len(pairs),
        "pairs_seen_by_kind": dict(kinds),
        "epochs": epochs,
        "steps": len(losses),
        "steps_planned": len(batches),
        "stopped_by_time_limit": stopped_early,
        "warmup_steps": warmup_steps,
        "batch_size": batch_size,
        "lr": lr,
        "scale": scale,
        "max_seq_length": max_seq_length,
        "lora_rank": lora_rank if method == "lora" else None,
        "train_layers": train_layers or n_layers,
        "trainable_parameters": n_trainable,
        "adapter_bytes": adapter_bytes,
        "seconds": round(seconds, 1),
        "tokens_per_second": round(tokens / seconds, 1) if seconds else None,
        "loss_first_50": round(sum(losses[:50]) / len(losses[:50]), 4),
        "loss_last_50": round(sum(losses[-50:]) / len(losses[-50:]), 4),
        **(metadata or {}),
    }
    (out / "ADAPT.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    log.info("adapted model saved to %s (%.0f s)", out, seconds)
    return summary


def mine(args: argparse.Namespace, settings) -> tuple[list, list]:
    """Parse, link twins, mine pairs; returns (pairs, twins)."""
    from indexer.embedding import Embedder
    from indexer.twins import Twin, find_twins
    from thaigov_search.adapt_pairs import load_articles, load_articles_cached, mine_pairs, read_ids

    exclude = read_ids(args.exclude) if args.exclude else set()
    if args.parsed_cache:
        articles = load_articles_cached(args.corpus, exclude, args.parsed_cache, progress=not args.quiet)
    else:
        articles = load_articles(args.corpus, exclude, progress=not args.quiet, limit=args.limit)
    if not articles:
        raise ValueError("the corpus has no releases left after --exclude")
    twins: list[Twin] = []
    if args.twins:
        with open(args.twins, encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                d["shared"] = tuple(d["shared"])
                twins.append(Twin(**d))
    elif not args.no_twins:
        embedder = Embedder(settings.model, settings.home, backend=args.twin_backend)
        twins = find_twins(
            articles,
            lambda texts: embedder.embed_passages(texts, batch_size=16, show_progress=not args.quiet),
            progress=not args.quiet,
        )
    pairs = mine_pairs(articles, twins, args.pairs, args.seed)
    return pairs, twins


def cmd_adapt(args: argparse.Namespace) -> int:
    from indexer.model_builder import resolve_model
    from thaigov_search.cli import UsageError, settings_from

    if args.pairs_file is None and not args.corpus:
        raise UsageError("give --corpus FILE... to mine pairs from, or --pairs-file from an earlier --save-pairs")
    if args.pairs < 64:
        raise UsageError("--pairs must be at least 64")
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


def register(subparsers) -> None:
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
    p.add_argument("--model", help="base model ('default' = embedded e5-small)")
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
