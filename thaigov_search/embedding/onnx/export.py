"""Export a model folder to ONNX once (float32, and int8 when asked), verified against torch."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from thaigov_search.core.files import build_once
from thaigov_search.embedding.onnx.quantize import quantize
from thaigov_search.embedding.onnx.runtime import OnnxSentenceEncoder, require_runtime

logger = logging.getLogger(__name__)

EXPORT_DIRNAME = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model_qint8.onnx"
MARKER = "EXPORT_OK.json"
# Bump when the exported files change (exporter or quantisation settings), so old ones are redone.
EXPORT_VERSION = 3
OPSET = 17
# Minimum cosine agreement with the torch model on the probe texts before a file is installed.
MIN_COSINE = {False: 0.999, True: 0.95}

_PROBE_TEXTS = (
    "คณะรัฐมนตรีมีมติเห็นชอบร่างพระราชบัญญัติงบประมาณรายจ่ายประจำปี 2567 วงเงิน 3.48 ล้านล้านบาท",
    "The cabinet approved a 1,500 million baht budget for flood relief in the northern provinces.",
    "นายกรัฐมนตรีเดินทางเยือนจังหวัดเชียงใหม่ เพื่อติดตามการแก้ไขปัญหาหมอกควันและไฟป่า",
    "โฆษกประจำสำนักนายกรัฐมนตรี",
)




def ensure_exported(model_path: str, quantized: bool, home: Path | None = None) -> Path:
    """Path of the exported ONNX file for this model (float32 or int8), exporting it once."""
    require_runtime()
    folder = local_folder(model_path)
    out_dir = export_dir(model_path, folder, home)
    target = out_dir / (INT8_FILE if quantized else FP32_FILE)
    fingerprint = _fingerprint(folder)
    if _marker_ok(out_dir, fingerprint, target.name):
        return target
    # Another process may have exported it while we waited for the lock.
    build_once(out_dir / ".lock", lambda: _marker_ok(out_dir, fingerprint, target.name),
               lambda: _export_locked(folder, out_dir, fingerprint, quantized))
    return target


def export_dir(model_path: str, folder: Path, home: Path | None = None) -> Path:
    """``<folder>/onnx`` for a local folder we may write to; otherwise a cache folder under home."""
    if Path(model_path).is_dir() and os.access(folder, os.W_OK):
        return folder / EXPORT_DIRNAME
    if home is None:
        from thaigov_search.core.settings import Settings

        home = Settings().home
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "--", str(model_path)).strip("-.") or "model"
    return Path(home) / "onnx" / safe



def local_folder(model_path: str) -> Path:
    """The model as a local folder: itself, or its snapshot in the Hugging Face cache (offline)."""
    path = Path(model_path)
    if path.is_dir():
        return path.resolve()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(model_path), local_files_only=True))
    except Exception as exc:
        raise ValueError(
            f"Cannot find model '{model_path}' locally for the ONNX export ({exc}); give a local "
            f"sentence-transformers folder or a model already in the Hugging Face cache."
        ) from exc


def _fingerprint(folder: Path) -> dict[str, Any]:
    """Identifies the weights and config an export came from (cheap: sizes and mtimes, config hash)."""
    weights = {}
    for name in ("model.safetensors", "pytorch_model.bin", "config.json"):
        p = folder / name
        if p.is_file():
            st = p.stat()
            weights[name] = [st.st_size, st.st_mtime_ns]
    config_hash = hashlib.sha256((folder / "config.json").read_bytes()).hexdigest() if (folder / "config.json").is_file() else ""
    return {"export_version": EXPORT_VERSION, "files": weights, "config_sha256": config_hash}


def _marker_ok(out_dir: Path, fingerprint: dict[str, Any], file_name: str) -> bool:
    try:
        marker = json.loads((out_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if marker.get("fingerprint") != fingerprint:
        return False
    size = marker.get("files", {}).get(file_name)
    path = out_dir / file_name
    return size is not None and path.is_file() and path.stat().st_size == size


def _export_locked(folder: Path, out_dir: Path, fingerprint: dict[str, Any], quantized: bool) -> None:
    """Export float32 (and int8 if asked), verify, install atomically, then write the marker."""
    try:
        marker = json.loads((out_dir / MARKER).read_text(encoding="utf-8"))
        if marker.get("fingerprint") != fingerprint:
            marker = {}
    except (OSError, ValueError):
        marker = {}
    files: dict[str, int] = dict(marker.get("files", {}))
    checks: dict[str, Any] = dict(marker.get("verification", {}))
    for stale in out_dir.glob(".tmp-*"):  # leftovers of an exporter that died; we hold the lock
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".tmp-", dir=out_dir) as tmp_name:
        tmp = Path(tmp_name)
        fp32 = out_dir / FP32_FILE
        if files.get(FP32_FILE) is None or not fp32.is_file() or fp32.stat().st_size != files[FP32_FILE]:
            candidate = tmp / FP32_FILE
            _export_torch(folder, candidate)
            checks[FP32_FILE] = _verify(folder, candidate, quantized=False)
            os.replace(candidate, fp32)
            files = {FP32_FILE: fp32.stat().st_size}  # a new float32 file invalidates the int8 one
            checks = {FP32_FILE: checks[FP32_FILE]}
        if quantized:
            q = tmp / INT8_FILE
            quantize(fp32, q)
            checks[INT8_FILE] = _verify(folder, q, quantized=True)
            os.replace(q, out_dir / INT8_FILE)
            files[INT8_FILE] = (out_dir / INT8_FILE).stat().st_size
    import onnxruntime

    marker = {
        "fingerprint": fingerprint,
        "files": files,
        "verification": checks,
        "onnxruntime_version": onnxruntime.__version__,
        "opset": OPSET,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    tmp_marker = out_dir / f".tmp-{MARKER}"
    tmp_marker.write_text(json.dumps(marker, indent=2), encoding="utf-8")
    os.replace(tmp_marker, out_dir / MARKER)
    logger.info("exported %s to %s in %.1fs", ", ".join(files), out_dir, time.perf_counter() - t0)


def _export_torch(folder: Path, out: Path) -> None:
    """torch → ONNX (TorchScript exporter, opset 17, dynamic batch and sequence axes)."""
    import inspect
    import warnings

    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(model.forward).parameters:
        names.append("token_type_ids")

    class Encoder(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args, strict=True)), return_dict=True).last_hidden_state

    # Two rows of different lengths, so the traced graph keeps padding masks general.
    ids = torch.tensor([[0, 1000, 2000, 3000, 4000, 5000, 6000, 2], [0, 1000, 2000, 2, 1, 1, 1, 1]])
    mask = torch.tensor([[1] * 8, [1] * 4 + [0] * 4])
    if model.config.pad_token_id is not None:
        ids[1, 4:] = model.config.pad_token_id
    args = [ids, mask, torch.zeros_like(ids)][: len(names)]
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(model), tuple(args), str(out), dynamo=False, opset_version=OPSET,
            input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes, do_constant_folding=True,
        )



def _verify(folder: Path, onnx_file: Path, quantized: bool) -> dict[str, Any]:
    """Cosine of ONNX vs torch sentence embeddings on probe texts; raises if below the bar."""
    import torch
    from sentence_transformers import SentenceTransformer

    encoder = OnnxSentenceEncoder(folder, onnx_file)
    with torch.inference_mode():
        reference = SentenceTransformer(str(folder), device="cpu")
        prompt = next(iter(encoder.prompts), None)
        ref = reference.encode(list(_PROBE_TEXTS), prompt_name=prompt, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
    ours = encoder.encode(list(_PROBE_TEXTS), prompt_name=prompt, normalize_embeddings=True)
    cos = np.sum(ref * ours, axis=1)
    low = float(cos.min())
    if low < MIN_COSINE[quantized]:
        raise RuntimeError(f"exported ONNX model {onnx_file.name} disagrees with torch (min cosine {low:.4f})")
    return {"min_cosine_vs_torch": round(low, 5), "probe_texts": len(_PROBE_TEXTS)}
