"""Token counting that is safe from any thread: shared by the torch and ONNX embedders."""

from __future__ import annotations

from typing import Any


def counting_tokenizer(tokenizer: Any) -> Any:
    """A private copy of a fast tokenizer's Rust core, for counting tokens only.

    A Hugging Face fast tokenizer keeps truncation and padding as state on its one Rust object and
    sets them before each call: ``SentenceTransformer.encode`` turns truncation on, a count with
    ``truncation=False`` turns it off. Two threads sharing the object, one counting (the indexer's
    chunking, ``POST /documents``) and one embedding, could reset each other between "set" and
    "encode": "Unable to create tensor ... activate truncation" (1 call in ~5,000 on a quiet machine,
    every 300-article run under load; issue #15) or "Already borrowed". This copy is configured
    once (no truncation, no padding) and never reconfigured, so its ``encode``/``encode_batch`` only
    read it and are safe from any number of threads; the model's own tokenizer is left to ``encode``.
    """
    from tokenizers import Tokenizer

    copy = getattr(tokenizer, "copy", None)  # the ONNX path's FolderTokenizer: a fresh read of its file
    if callable(copy):
        counter = copy()
        counter.no_truncation()
        counter.no_padding()
        return counter
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError(
            f"The model's tokenizer ({type(tokenizer).__name__}) is not a fast (Rust) tokenizer; "
            "use a model folder that has a tokenizer.json."
        )
    counter = Tokenizer.from_str(backend.to_str())
    counter.no_truncation()
    counter.no_padding()
    return counter
