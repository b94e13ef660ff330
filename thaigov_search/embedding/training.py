"""Contrastive fine-tuning of the embedding model (``thaigov-search adapt``, docs/adaptation.md).

Trains on (query, positive) :class:`Pair` s -- mined from the user's corpus by
:mod:`thaigov_search.indexing.adapt_pairs` -- with sentence-transformers'
:class:`MultipleNegativesRankingLoss` (in-batch negatives, batches drawn from one month by
:func:`make_batches`, so that the negatives are same-period releases). Queries get the model's
``query`` prompt and positives its ``passage`` prompt, exactly as the indexer and the searcher use them.

Three ways to train (``method``), all producing an ordinary sentence-transformers folder that
``--model DIR`` takes everywhere (index, eval, serve, the ONNX backends):

* ``lora`` (default): a LoRA adapter (rank ``lora_rank``) on every attention and feed-forward
  projection, merged into the weights when saved; the adapter alone is also saved under
  ``adapter/`` (rank 16: 5.3 MB on all 12 layers of the default model, 1.8 MB on the top 4 that
  benchmarks/train_default_adapter.sh trains), which is what a package can ship
  (:func:`thaigov_search.embedding.lora_merge.merge_lora` rebuilds the model from it). Needs the
  optional ``peft`` (``pip install "thaigov-search[adapt]"``);
* ``frozen-embeddings``: all encoder layers train, the 96M-parameter word-embedding matrix stays
  frozen (its rows for Thai and English tokens would otherwise drift on a small corpus);
* ``full``: everything trains.

The run is deterministic for a given ``seed`` on one device and thread count; it uses CUDA
when available. Progress is a tqdm bar over optimizer steps.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

METHODS = ("lora", "frozen-embeddings", "full")
LORA_TARGETS = ["query", "key", "value", "dense"]
PEFT_MISSING = ('LoRA training (--method lora, the default) needs the optional peft package: '
                'pip install "thaigov-search[adapt]" (or train with --method frozen-embeddings or full)')


@dataclass(frozen=True)
class Pair:
    """One training example: a query and the passage it should find."""

    query: str
    positive: str
    kind: str  # title-lead, lead-rest, twin-en-th, twin-th-en (indexing/adapt_pairs.py)
    month: str  # YYYY-MM of the release, for month-homogeneous batches
    group: tuple[str, ...]  # release ids this pair is about (twins included)


def peft_available() -> bool:
    """Whether LoRA training can run (``peft`` is the optional ``adapt`` extra)."""
    return importlib.util.find_spec("peft") is not None


def make_batches(pairs: Sequence[Pair], batch_size: int, seed: int) -> list[list[Pair]]:
    """Batches of ``batch_size`` pairs from one month each, no story twice in a batch, in a
    seeded random order. Leftovers of a month (fewer than ``batch_size``) are pooled into
    mixed-month batches so that no pair is dropped except a final partial batch."""
    rng = random.Random(seed)
    by_month: dict[str, list[Pair]] = defaultdict(list)
    for p in pairs:
        by_month[p.month].append(p)
    batches: list[list[Pair]] = []
    leftovers: list[Pair] = []
    for month in sorted(by_month):
        items = by_month[month]
        rng.shuffle(items)
        full, rest = _fill(items, batch_size)
        batches += full
        leftovers += rest
    rng.shuffle(leftovers)
    full, _ = _fill(leftovers, batch_size)
    batches += full
    rng.shuffle(batches)
    return batches


def _fill(items: list[Pair], batch_size: int) -> tuple[list[list[Pair]], list[Pair]]:
    """Greedy batches in which no release id (or twin) repeats and no query or positive repeats."""
    batches: list[list[Pair]] = []
    pending = list(items)
    while len(pending) >= batch_size:
        batch: list[Pair] = []
        used: set[str] = set()
        texts: set[str] = set()
        later: list[Pair] = []
        for p in pending:
            if len(batch) < batch_size and not used.intersection(p.group) and p.query not in texts and p.positive not in texts:
                batch.append(p)
                used.update(p.group)
                texts.update((p.query, p.positive))
            else:
                later.append(p)
        if len(batch) < batch_size:
            return batches, batch + later
        batches.append(batch)
        pending = later
    return batches, pending




def pick_device(requested: str | None = None) -> str:
    """The requested device, else CUDA when there is one, else CPU."""
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def train(
    pairs: Sequence[Pair],
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
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError as exc:
            raise ImportError(PEFT_MISSING) from exc

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
