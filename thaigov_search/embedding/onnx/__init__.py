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
   :class:`thaigov_search.embedding.embedder.Embedder` uses (``encode``, ``tokenizer``, ``prompts``,
   ``max_seq_length``, ``get_sentence_embedding_dimension``). The tokenizer is loaded from the model
   folder exactly as sentence-transformers loads it (same ``tokenizer.json``, so the default model's
   custom tokenizer fixes apply), the prompts come from ``config_sentence_transformers.json`` and the
   pooling/normalisation from the folder's module files. Inputs are sorted by token length and padded
   per batch only to the longest member, which matters more than anything else for throughput.

Models with modules other than Transformer → Pooling (mean or CLS) → optional Normalize are refused
with a clear error: use the torch backend for them.

The package: :mod:`.export` exports and verifies the files once (:mod:`.quantize` makes the int8
one), :mod:`.runtime` runs them; :func:`load_onnx_model` joins the two.
"""

from __future__ import annotations

from pathlib import Path

from thaigov_search.embedding.onnx.export import ensure_exported, local_folder
from thaigov_search.embedding.onnx.runtime import OnnxSentenceEncoder, require_runtime


def load_onnx_model(model_path: str, quantized: bool, home: Path | None = None,
                    threads: int | None = None) -> OnnxSentenceEncoder:
    """The ONNX Runtime encoder for a sentence-transformers model (exported on first use)."""
    require_runtime()
    folder = local_folder(model_path)
    onnx_file = ensure_exported(model_path, quantized, home)
    return OnnxSentenceEncoder(folder, onnx_file, threads=threads)

