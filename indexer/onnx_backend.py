"""ONNX Runtime embedding backends ("onnx" = float32, "onnx-int8" = dynamically quantised int8).

Why not ``SentenceTransformer(path, backend="onnx")``: that route needs ``optimum.onnxruntime``, which
now lives in the ``optimum-onnx`` package, and every release of it so far pins ``transformers<4.58``
and ``optimum~=2.1`` (we run transformers 5). So the export and the runtime are done here with only
``torch`` (already required), ``onnx`` and ``onnxruntime``:

1. **Export, once per model folder.** The transformer encoder (``AutoModel``, eager attention) is
   exported with torch's TorchScript ONNX exporter (opset 17, dynamic batch and sequence axes) and
   quantised with ``onnxruntime.quantization.quantize_dynamic`` (int8 weights per output channel,
   uint8 activations quantised per batch: the fast path on AVX-512 VNNI / AVX2 CPUs). The graph is
   left unfused on purpose: onnxruntime fuses it at load time (``ORT_ENABLE_ALL``), and on our
   machine that ran the int8 model about 7% faster than fusing offline with onnxruntime's BERT
   optimiser first (float32: no difference).
   Both files are checked against the torch model on probe texts before they are installed; a file
   that fails the check is never used. They go to ``<model folder>/onnx/`` for a local model folder
   (the default model's folder included, so a rebuilt model drops them too), or to
   ``<home>/onnx/<model id>/`` for a model from the Hugging Face cache. Writes are atomic
   (temporary file + ``os.replace``) under an ``flock``, so concurrent first loads export once.
   A marker (``EXPORT_OK.json``) records the weights they came from; a changed model re-exports.
2. **Run.** :class:`OnnxSentenceEncoder` answers the part of the ``SentenceTransformer`` API that
   :class:`indexer.embedding.Embedder` uses (``encode``, ``tokenizer``, ``prompts``,
   ``max_seq_length``, ``get_sentence_embedding_dimension``). The tokenizer is loaded from the model
   folder exactly as sentence-transformers loads it (same ``tokenizer.json``, so the default model's
   custom tokenizer fixes apply), the prompts come from ``config_sentence_transformers.json`` and the
   pooling/normalisation from the folder's module files. Inputs are sorted by token length and padded
   per batch only to the longest member, which matters more than anything else for throughput.

Models with modules other than Transformer → Pooling (mean or CLS) → optional Normalize are refused
with a clear error: use the torch backend for them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "thaigov-search[fast]"'
EXPORT_DIRNAME = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model_qint8.onnx"
MARKER = "EXPORT_OK.json"
# Bump when the exported files change (exporter or quantisation settings), so old ones are redone.
EXPORT_VERSION = 3
OPSET = 17
THREADS_ENV = "THAIGOV_SEARCH_ONNX_THREADS"
PARALLEL_ENV = "THAIGOV_SEARCH_ONNX_PARALLEL"  # "batches" (default) or "ops": see parallel_mode()
SPIN_ENV = "THAIGOV_SEARCH_ONNX_SPIN"  # "0": idle ORT threads sleep instead of spinning
# Minimum cosine agreement with the torch model on the probe texts before a file is installed.
MIN_COSINE = {False: 0.999, True: 0.95}

_PROBE_TEXTS = (
    "คณะรัฐมนตรีมีมติเห็นชอบร่างพระราชบัญญัติงบประมาณรายจ่ายประจำปี 2567 วงเงิน 3.48 ล้านล้านบาท",
    "The cabinet approved a 1,500 million baht budget for flood relief in the northern provinces.",
    "นายกรัฐมนตรีเดินทางเยือนจังหวัดเชียงใหม่ เพื่อติดตามการแก้ไขปัญหาหมอกควันและไฟป่า",
    "โฆษกประจำสำนักนายกรัฐมนตรี",
)


# --------------------------------------------------------------------------------- public API


def load_onnx_model(model_path: str, quantized: bool, home: Path | None = None,
                    threads: int | None = None) -> OnnxSentenceEncoder:
    """The ONNX Runtime encoder for a sentence-transformers model (exported on first use)."""
    _require_runtime()
    folder = _local_folder(model_path)
    onnx_file = ensure_exported(model_path, quantized, home)
    return OnnxSentenceEncoder(folder, onnx_file, threads=threads)


def onnx_model_kwargs(model_path: str, quantized: bool, home: Path | None = None) -> dict[str, Any]:
    """Keyword arguments for ``SentenceTransformer(model_path, backend="onnx", **kwargs)``.

    Only usable where ``optimum.onnxruntime`` imports (it does not with transformers 5: see the
    module docstring); :func:`load_onnx_model` is the route that needs no optimum. The file is
    exported here first, so both routes share it.
    """
    _require_runtime()
    try:
        import optimum.onnxruntime  # noqa: F401
    except Exception as exc:  # ImportError, or an incompatible transformers underneath
        raise ImportError(
            f"SentenceTransformer's ONNX backend needs optimum.onnxruntime, which cannot be imported here "
            f"({exc}); use indexer.onnx_backend.load_onnx_model instead."
        ) from exc
    onnx_file = ensure_exported(model_path, quantized, home)
    folder = _local_folder(model_path)
    if onnx_file.parent.parent != folder:
        raise ValueError(f"ONNX file {onnx_file} is not inside the model folder {folder}")
    return {
        "model_kwargs": {
            "file_name": f"{EXPORT_DIRNAME}/{onnx_file.name}",
            "provider": "CPUExecutionProvider",
            "session_options": session_options(threads=None),
        }
    }


def ensure_exported(model_path: str, quantized: bool, home: Path | None = None) -> Path:
    """Path of the exported ONNX file for this model (float32 or int8), exporting it once."""
    _require_runtime()
    folder = _local_folder(model_path)
    out_dir = export_dir(model_path, folder, home)
    target = out_dir / (INT8_FILE if quantized else FP32_FILE)
    fingerprint = _fingerprint(folder)
    if _marker_ok(out_dir, fingerprint, target.name):
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if not _marker_ok(out_dir, fingerprint, target.name):  # another process may have done it
                _export_locked(folder, out_dir, fingerprint, quantized)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return target


def export_dir(model_path: str, folder: Path, home: Path | None = None) -> Path:
    """``<folder>/onnx`` for a local folder we may write to; otherwise a cache folder under home."""
    if Path(model_path).is_dir() and os.access(folder, os.W_OK):
        return folder / EXPORT_DIRNAME
    if home is None:
        from thaigov_search.config import Settings

        home = Settings().home
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "--", str(model_path)).strip("-.") or "model"
    return Path(home) / "onnx" / safe


def session_options(threads: int | None = None):
    """ORT session options: all graph optimisations, one inter-op thread, ``threads`` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    if os.environ.get(SPIN_ENV, "").strip() == "0":
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def parallel_mode() -> str:
    """How the ONNX encoder uses several cores ($THAIGOV_SEARCH_ONNX_PARALLEL): "batches" or "ops".

    "batches" (default) runs whole batches side by side on single-threaded sessions: no
    synchronisation inside the model, and on a machine where other processes take cores it degrades
    gracefully, while operator-level threads wait at every barrier for a descheduled thread (on our
    busy 2-core machine 2 intra-op threads ran at half the speed of one; see docs/performance.md).
    "ops" spreads each operator over the threads instead; a single batch (one query) then uses every
    core, which lowers the latency of a lone query on an idle machine.
    """
    raw = os.environ.get(PARALLEL_ENV, "").strip().lower() or "batches"
    if raw not in ("batches", "ops"):
        raise ValueError(f"{PARALLEL_ENV} must be 'batches' or 'ops', not {raw!r}")
    return raw


def default_threads() -> int:
    """$THAIGOV_SEARCH_ONNX_THREADS, else the cores this process may run on."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a whole number, not {raw!r}") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# ----------------------------------------------------------------------------------- encoder


class OnnxSentenceEncoder:
    """A sentence-transformers folder run by ONNX Runtime: Transformer → Pooling → (Normalize).

    Duck-types the ``SentenceTransformer`` members :class:`indexer.embedding.Embedder` uses.
    """

    def __init__(self, folder: Path, onnx_file: Path, threads: int | None = None):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        from indexer.embedding import counting_tokenizer

        self.folder = Path(folder)
        self.onnx_file = Path(onnx_file)
        spec = read_module_spec(self.folder)
        self.pooling = spec["pooling"]
        self.include_prompt = spec["include_prompt"]
        self.normalize = spec["normalize"]
        self.dimension = spec["dimension"]
        self.prompts: dict[str, str] = spec["prompts"]
        self.default_prompt_name: str | None = spec["default_prompt_name"]
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
        self.max_seq_length = spec["max_seq_length"]
        self.threads = threads or default_threads()
        # "batches": a single-threaded session run by `threads` workers at once; "ops": one batch at a
        # time, each operator spread over `threads` threads.
        self.parallel_mode = parallel_mode()
        self.workers = self.threads if self.parallel_mode == "batches" else 1
        self.session = ort.InferenceSession(
            str(self.onnx_file), sess_options=session_options(self.threads // self.workers),
            providers=["CPUExecutionProvider"],
        )
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        # A fast tokenizer is one Rust object whose truncation state is set per call, so threads that
        # call it with different settings break each other (issue #15). The encoder has its own copy,
        # truncation fixed once at max_seq_length: every call only reads it, from any thread.
        self._encode_tokenizer = counting_tokenizer(self.tokenizer)
        self._encode_tokenizer.enable_truncation(self.max_seq_length)

    def get_sentence_embedding_dimension(self) -> int:
        return self.dimension

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids as sentence-transformers makes them (special tokens, truncated to max_seq_length)."""
        return [e.ids for e in self._encode_tokenizer.encode_batch(list(texts), add_special_tokens=True)]

    def encode(
        self,
        sentences: str | Sequence[str],
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        convert_to_numpy: bool = True,
        normalize_embeddings: bool = False,
        **_ignored: Any,
    ) -> np.ndarray:
        """Embeddings as float32 ``[n, dim]`` (``[dim]`` for a single string), in input order."""
        single = isinstance(sentences, str)
        texts: list[str] = [sentences] if isinstance(sentences, str) else [str(s) for s in sentences]
        if prompt is None:
            name = prompt_name if prompt_name is not None else self.default_prompt_name
            if name is not None:
                if name not in self.prompts:
                    raise ValueError(f"Prompt name '{name}' not found in the model's prompts {sorted(self.prompts)}")
                prompt = self.prompts[name]
        prompt = prompt or ""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        ids = self.tokenize([prompt + t for t in texts])
        skip = self._prompt_tokens(prompt) if (prompt and not self.include_prompt) else 0
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # longest first, like ST
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        batches = range(0, len(order), max(1, batch_size))
        if show_progress_bar:
            from tqdm import tqdm

            batches = tqdm(batches, desc="embedding", unit="batch")
        batch_size = max(1, batch_size)

        def run(start: int) -> None:
            chosen = order[start:start + batch_size]
            out[chosen] = self._embed_batch([ids[i] for i in chosen], skip)

        if self.workers > 1 and len(order) > batch_size:
            # Whole batches in parallel, one core each: see `parallel_mode`.
            with ThreadPoolExecutor(self.workers, thread_name_prefix="onnx-embed") as pool:
                for _ in pool.map(run, batches):
                    pass
        else:
            for start in batches:
                run(start)
        if self.normalize or normalize_embeddings:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out /= np.maximum(norms, 1e-12)
        return out[0] if single else out

    def _prompt_tokens(self, prompt: str) -> int:
        """Leading tokens that belong to the prompt (sentence-transformers' rule: without the final EOS)."""
        return max(0, len(self.tokenize([prompt])[0]) - 1)

    def _embed_batch(self, batch: list[list[int]], skip: int) -> np.ndarray:
        width = max(len(x) for x in batch)
        input_ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, seq in enumerate(batch):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = self.session.run(None, feeds)[0]
        if self.pooling == "cls":
            return hidden[:, 0, :].astype(np.float32)
        weights = mask.astype(np.float32)
        if skip:
            weights[:, :skip] = 0.0
        summed = np.einsum("bld,bl->bd", hidden, weights)
        return (summed / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)).astype(np.float32)


def read_module_spec(folder: Path) -> dict[str, Any]:
    """What the folder's sentence-transformers module files say, if the ONNX encoder can run it."""
    folder = Path(folder)

    def load(name: str, default: Any = None) -> Any:
        path = folder / name
        if not path.is_file():
            return default
        return json.loads(path.read_text(encoding="utf-8"))

    modules = load("modules.json")
    if not modules:
        raise ValueError(f"{folder} is not a sentence-transformers model folder (no modules.json)")
    types = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if types[:2] != ["Transformer", "Pooling"] or any(t != "Normalize" for t in types[2:]):
        raise ValueError(
            f"the ONNX backends support Transformer → Pooling → Normalize models only; {folder} has "
            f"{' → '.join(types)}. Use --backend torch."
        )
    pooling_cfg = load(f"{modules[1].get('path', '1_Pooling')}/config.json", {})
    # sentence-transformers >= 6 saves {"pooling_mode": "mean", "embedding_dimension": ...}; older
    # versions {"pooling_mode_mean_tokens": true, "word_embedding_dimension": ...}. Both are read.
    if pooling_cfg.get("pooling_mode_mean_tokens") or pooling_cfg.get("pooling_mode") == "mean":
        pooling = "mean"
    elif pooling_cfg.get("pooling_mode_cls_token") or pooling_cfg.get("pooling_mode") == "cls":
        pooling = "cls"
    else:
        raise ValueError(f"the ONNX backends support mean or CLS pooling only ({folder}); use --backend torch.")
    st_cfg = load("config_sentence_transformers.json", {})
    bert_cfg = load("sentence_bert_config.json", {})
    if bert_cfg.get("do_lower_case"):
        raise ValueError(f"the ONNX backends do not support do_lower_case models ({folder}); use --backend torch.")
    config = load("config.json", {})
    max_len = int(bert_cfg.get("max_seq_length") or 512)
    positions = int(config.get("max_position_embeddings") or max_len)
    if config.get("model_type") in ("roberta", "xlm-roberta", "camembert"):
        positions -= 2  # position ids start after the padding index
    return {
        "pooling": pooling,
        "include_prompt": bool(pooling_cfg.get("include_prompt", True)),
        "normalize": "Normalize" in types,
        "dimension": int(pooling_cfg.get("word_embedding_dimension") or pooling_cfg.get("embedding_dimension")
                         or config.get("hidden_size") or 0),
        "prompts": dict(st_cfg.get("prompts") or {}),
        "default_prompt_name": st_cfg.get("default_prompt_name"),
        "max_seq_length": min(max_len, positions),
    }


# ------------------------------------------------------------------------------------ export


def _require_runtime() -> None:
    missing = []
    for name in ("onnxruntime", "onnx"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(
            f"The ONNX backends need {' and '.join(missing)}, which are not installed: {INSTALL_HINT} "
            f"(or use --backend torch)."
        )


def _local_folder(model_path: str) -> Path:
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
            _quantize(fp32, q)
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


def _quantize(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation: signed int8 weights per output channel, uint8 activations per batch.

    Per-channel weights cost nothing in speed here and lift the cosine agreement with float32 from
    about 0.983 to 0.996 (mean over real passages; see docs/performance.md).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    previous = logging.root.manager.disable
    logging.disable(logging.INFO)  # the quantiser logs every tensor at INFO on the root logger
    try:
        quantize_dynamic(
            str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, reduce_range=False,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # for outputs shape inference cannot type
        )
    finally:
        logging.disable(previous)


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
