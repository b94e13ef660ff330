"""The suggestion phrases of a snapshot's titles, written once by the indexer and memory-mapped by every
server process: ``suggest-<gen>.bin`` (store/mapped.py's container).

A service used to build them itself in the background after start-up (core/title_phrases.py), in
every worker: at the full corpus 427k phrases held as Python strings, ~450 MB of private memory per
process and a build of tens of seconds (docs/performance.md). The writer now builds them with the
other snapshot files, from the titles read in the same transaction, so a server maps one file:
nothing parsed, nothing private, shared through the page cache.

Arrays: ``key_bytes``/``key_offsets`` (the match keys, sorted), ``text_bytes``/``text_offsets``
(the display text per key) and ``weights`` (int32: titles holding the phrase).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thaigov_search.core.title_phrases import Phrases
from thaigov_search.store.mapped import SortedStrings, Strings, encode_strings, open_arrays, write_arrays
from thaigov_search.store.schema import IndexCorruptError

MAGIC = b"TGSUGG\x00\x01"
ARRAYS = ("key_bytes", "key_offsets", "text_bytes", "text_offsets", "weights")


@dataclass(frozen=True)
class PhraseTable:
    """Phrases as compact arrays, mapped from a file or encoded in memory (:func:`phrase_table`)."""

    keys: SortedStrings
    texts: Strings
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


def _arrays(phrases: Phrases) -> dict[str, np.ndarray]:
    key_bytes, key_offsets = encode_strings(phrases.keys)
    text_bytes, text_offsets = encode_strings(phrases.texts)
    return {"key_bytes": key_bytes, "key_offsets": key_offsets, "text_bytes": text_bytes,
            "text_offsets": text_offsets, "weights": np.ascontiguousarray(phrases.weights, dtype=np.int32)}


def _table(arrays: dict[str, np.ndarray]) -> PhraseTable:
    return PhraseTable(SortedStrings(arrays["key_bytes"], arrays["key_offsets"]),
                       Strings(arrays["text_bytes"], arrays["text_offsets"]), arrays["weights"])


def phrase_table(phrases: Phrases) -> PhraseTable:
    """``phrases`` in the file's compact form, in memory (an index without a ``suggest-<gen>.bin``)."""
    return _table(_arrays(phrases))


def write_suggestions(phrases: Phrases, path: Path) -> None:
    """Write ``phrases`` to ``path`` and fsync it."""
    write_arrays(path, MAGIC, _arrays(phrases))


def open_suggestions(path: Path) -> PhraseTable:
    """Map a file :func:`write_suggestions` wrote; a damaged or truncated one raises IndexCorruptError."""
    arrays = open_arrays(path, MAGIC, ARRAYS)
    n = len(arrays["weights"])
    if len(arrays["key_offsets"]) != n + 1 or len(arrays["text_offsets"]) != n + 1 or \
            (n and (int(arrays["key_offsets"][-1]) != len(arrays["key_bytes"])
                    or int(arrays["text_offsets"][-1]) != len(arrays["text_bytes"]))):
        raise IndexCorruptError(f"{path} is damaged (inconsistent array sizes). Rebuild the index with `thaigov-search index`.")
    return _table(arrays)
