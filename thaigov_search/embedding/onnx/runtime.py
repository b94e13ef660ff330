"""The ONNX Runtime encoder: a sentence-transformers folder run as Transformer → Pooling → (Normalize)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

INSTALL_HINT = 'pip install "thaigov-search[fast]"'
THREADS_ENV = "THAIGOV_SEARCH_ONNX_THREADS"
PARALLEL_ENV = "THAIGOV_SEARCH_ONNX_PARALLEL"  # "batches" (default) or "ops": see parallel_mode()
SPIN_ENV = "THAIGOV_SEARCH_ONNX_SPIN"  # "1": idle ORT threads spin (default: they sleep; see session_options)


def require_runtime() -> None:
    import importlib.util

    # find_spec, not import: `onnx` takes over a second to import and only the export needs it
    missing = [name for name in ("onnxruntime", "onnx") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"The ONNX backends need {' and '.join(missing)}, which are not installed: {INSTALL_HINT} "
            f"(or use --backend torch)."
        )



def session_options(threads: int | None = None):
    """ORT session options: all graph optimisations, one inter-op thread, ``threads`` intra-op threads.

    Idle intra-op threads sleep instead of spinning unless $THAIGOV_SEARCH_ONNX_SPIN is "1": a
    spinning thread burns a core a busy neighbour (or another worker of ours) could use."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    spin = os.environ.get(SPIN_ENV, "").strip() == "1"
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "1" if spin else "0")
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
    """$THAIGOV_SEARCH_ONNX_THREADS, else the cores this process may use (affinity capped by the
    cgroup CPU quota: :func:`thaigov_search.core.cpu.available_cores`)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a whole number, not {raw!r}") from None
    from thaigov_search.core.cpu import available_cores

    return available_cores()


# ----------------------------------------------------------------------------------- encoder


class FolderTokenizer:
    """The part of a Hugging Face fast tokenizer the ONNX path uses, read from ``tokenizer.json``.

    ``backend_tokenizer`` is the encoder's own object (truncation fixed); :meth:`copy` gives another
    (the token counter, made only when something is chunked: a service that only answers queries
    never pays for it)."""

    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        path = Path(folder) / "tokenizer.json"
        if not path.is_file():
            raise ValueError(f"{folder} has no tokenizer.json: the ONNX backends need a fast tokenizer; use --backend torch.")
        self._path = path
        self.backend_tokenizer = Tokenizer.from_file(str(path))
        self.pad_token_id = self._pad_id(Path(folder))

    def copy(self):
        from tokenizers import Tokenizer

        return Tokenizer.from_file(str(self._path))

    def __call__(self, text: str) -> dict[str, list[int]]:
        """``tokenizer(text)`` as Hugging Face answers it (special tokens, no truncation); not on a hot path."""
        copy = self.copy()
        copy.no_truncation()
        encoding = copy.encode(text, add_special_tokens=True)
        return {"input_ids": encoding.ids, "attention_mask": encoding.attention_mask}

    def _pad_id(self, folder: Path) -> int | None:
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            try:
                pad = json.loads((folder / name).read_text(encoding="utf-8")).get("pad_token")
            except (OSError, ValueError):
                continue
            if isinstance(pad, dict):
                pad = pad.get("content")
            if isinstance(pad, str):
                return self.backend_tokenizer.token_to_id(pad)
        return None


class OnnxSentenceEncoder:
    """A sentence-transformers folder run by ONNX Runtime: Transformer → Pooling → (Normalize).

    Duck-types the ``SentenceTransformer`` members :class:`thaigov_search.embedding.embedder.Embedder` uses.
    """

    def __init__(self, folder: Path, onnx_file: Path, threads: int | None = None):
        import onnxruntime as ort

        self.folder = Path(folder)
        self.onnx_file = Path(onnx_file)
        spec = read_module_spec(self.folder)
        self.pooling = spec["pooling"]
        self.include_prompt = spec["include_prompt"]
        self.normalize = spec["normalize"]
        self.dimension = spec["dimension"]
        self.prompts: dict[str, str] = spec["prompts"]
        self.default_prompt_name: str | None = spec["default_prompt_name"]
        # The folder's tokenizer.json read by `tokenizers` itself (what AutoTokenizer wraps: the same
        # Rust object, byte for byte): importing transformers and sentence-transformers for it took
        # 5-12 s of a service start on our 2-core machine, the file itself 1.1-1.5 s (docs/performance.md).
        self.tokenizer = FolderTokenizer(self.folder)
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
        # call it with different settings break each other (issue #15). The encoder has its own
        # object, truncation fixed once at max_seq_length: every call only reads it, from any thread.
        self._encode_tokenizer = self.tokenizer.backend_tokenizer
        self._encode_tokenizer.no_padding()
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


