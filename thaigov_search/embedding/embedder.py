"""Sentence-transformers embedding with the model's own query/passage prompts."""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from thaigov_search.core.modes import BACKENDS
from thaigov_search.core.settings import Settings
from thaigov_search.embedding.tokens import counting_tokenizer

logger = logging.getLogger(__name__)


def quiet_libraries() -> None:
    """Keep hub/transformers chatter out of normal output; we never reach a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in ("sentence_transformers", "transformers", "huggingface_hub", "optimum", "onnxruntime"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="transformers")


def quiet_transformers() -> None:
    """No "Loading weights" bars on every model load (the torch path; the ONNX path never imports transformers)."""
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    except ImportError:
        pass


class Embedder:
    """One loaded model: counts tokens for chunking and embeds queries and passages."""

    def __init__(self, spec: str, home: Path, backend: str = "torch", device: str | None = None):
        quiet_libraries()
        from thaigov_search.embedding.default_model import resolve_model

        if backend not in BACKENDS:
            raise ValueError(f"Unknown backend '{backend}': choose one of {', '.join(BACKENDS)}.")
        self.spec = spec
        self.backend = backend
        path = resolve_model(spec, Path(home))
        try:
            if backend.startswith("onnx"):
                from thaigov_search.embedding.onnx import load_onnx_model

                # ONNX Runtime directly (optimum's ONNX route does not import with transformers 5).
                self.model = load_onnx_model(path, quantized=backend == "onnx-int8", home=Path(home))
            else:  # imported here: sentence-transformers (and torch, transformers) take seconds to import
                import torch
                from sentence_transformers import SentenceTransformer

                from thaigov_search.core.cpu import available_cores

                quiet_transformers()
                # torch sizes its pool by the machine's cores; never more than this process may use
                # (affinity, cgroup quota), and never more than a caller set (serve: 1)
                torch.set_num_threads(max(1, min(torch.get_num_threads(), available_cores())))
                self.model = SentenceTransformer(path, device=device or "cpu")
        except OSError as exc:
            raise ValueError(
                f"Cannot load model '{spec}' ({exc}). Give a local sentence-transformers folder, a model already in "
                f"the Hugging Face cache, or 'default' for the embedded model."
            ) from exc
        self.dimension = int(self.model.get_sentence_embedding_dimension() or 0)
        prompts = getattr(self.model, "prompts", {}) or {}
        self.query_prompt = "query" if "query" in prompts else None
        self.passage_prompt = "passage" if "passage" in prompts else ("document" if "document" in prompts else None)
        self._prompt_text = prompts.get(self.passage_prompt, "") if self.passage_prompt else ""
        self.tokenizer = self.model.tokenizer
        self._counter_lock = threading.Lock()
        self._counter_copy: Any = None
        self.max_seq_length = int(self.model.max_seq_length or 512)

    @classmethod
    def from_settings(cls, settings: Settings, model: str | None = None) -> Embedder:
        """The model the settings name (or ``model``, e.g. an index's own), on their backend and device."""
        return cls(model or settings.model, settings.home, settings.backend, settings.device)

    @property
    def default_batch_size(self) -> int:
        """Small batches are fastest on CPU (little padding, cache-resident); a GPU wants big ones."""
        device = str(getattr(self.model, "device", "cpu"))
        return 128 if device.startswith("cuda") else 4

    @property
    def _counter(self) -> Any:
        """The token counter (:func:`counting_tokenizer`), made on first use: copying a 17 MB
        tokenizer takes over a second, and a service that only answers queries never counts."""
        if self._counter_copy is None:
            with self._counter_lock:
                if self._counter_copy is None:
                    self._counter_copy = counting_tokenizer(self.tokenizer)
        return self._counter_copy

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for a passage, special tokens and prompt included (never truncated).

        Safe to call from any thread while other threads embed: see :func:`counting_tokenizer`.
        """
        return len(self._counter.encode(self._prompt_text + text, add_special_tokens=True).ids)

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encs = self._counter.encode_batch([self._prompt_text + t for t in texts], add_special_tokens=True)
        return [len(e.ids) for e in encs]

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.passage_prompt, batch_size, show_progress)

    def embed_queries(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(texts, self.query_prompt, batch_size, False)

    def _encode(self, texts: Sequence[str], prompt_name: str | None, batch_size: int, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            prompt_name=prompt_name,
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)

