"""Merge a LoRA adapter (as ``thaigov-search adapt`` saves it) into a model folder with numpy only.

A rank-16 adapter of the default model's top 4 layers is 1.8 MB, the merged model 470 MB; shipping the adapter
and merging at model-build time keeps the package small and needs neither ``peft`` nor torch
(only ``safetensors``, which transformers already requires). For every adapted linear layer
``W <- W + (lora_alpha / r) * B @ A`` -- peft's own merge for plain LoRA (no rsLoRA, DoRA or
fan-in-fan-out, which :func:`merge_lora` refuses).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["merge_lora", "ADAPTER_WEIGHTS", "ADAPTER_CONFIG"]

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
_PREFIX = "base_model.model."


def merge_lora(base: Path, adapter: Path, out: Path, strength: float = 1.0) -> Path:
    """Write ``out``: a copy of the sentence-transformers folder ``base`` whose weights carry the
    LoRA ``adapter`` (a folder with ``adapter_config.json`` and ``adapter_model.safetensors``).

    ``strength`` scales the update (``W + strength * (alpha / r) * B @ A``): 1 is peft's merge, 0 the
    base model; between them the adapter is applied at part strength.

    Files other than ``model.safetensors`` are copied unchanged (the ``onnx`` export folder is not:
    it belongs to the old weights). Raises ValueError for an adapter this function cannot merge.
    """
    from safetensors.numpy import load_file, save_file

    base, adapter, out = Path(base), Path(adapter), Path(out)
    cfg = json.loads((adapter / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    if cfg.get("peft_type") != "LORA" or cfg.get("use_rslora") or cfg.get("use_dora") or cfg.get("fan_in_fan_out"):
        raise ValueError(f"{adapter}: only plain LoRA adapters can be merged (got {cfg.get('peft_type')}, "
                         f"rslora={cfg.get('use_rslora')}, dora={cfg.get('use_dora')})")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {strength}")
    scale = strength * float(cfg["lora_alpha"]) / float(cfg["r"])
    weights = load_file(str(base / "model.safetensors"))
    lora = load_file(str(adapter / ADAPTER_WEIGHTS))
    merged = 0
    for key in sorted(k for k in lora if k.endswith(".lora_A.weight")):
        target = key[: -len(".lora_A.weight")]
        if target.startswith(_PREFIX):
            target = target[len(_PREFIX):]
        target += ".weight"
        if target not in weights:
            raise ValueError(f"{adapter}: adapter layer {target} is not in {base}")
        a = lora[key].astype(np.float32)
        b = lora[key.replace(".lora_A.", ".lora_B.")].astype(np.float32)
        w = weights[target]
        weights[target] = (w.astype(np.float32) + scale * (b @ a)).astype(w.dtype)
        merged += 1
    if not merged:
        raise ValueError(f"{adapter}: no LoRA layers found")

    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(base, tmp, ignore=shutil.ignore_patterns("onnx", "model.safetensors", "*.lock", "BUILD_OK.json"))
    save_file(weights, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    log.info("merged %d LoRA layers (scale %.2f) of %s into %s", merged, scale, adapter, out)
    return out
