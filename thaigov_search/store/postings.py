"""BM25 postings of the ``lexical`` table: counted in memory, or written once and memory-mapped.

A service used to count the stored terms of every article at start-up (17.5-34 s at the full
91,792-release corpus, docs/performance.md). The writer now counts them once per snapshot and
writes them beside the vector snapshot as ``bm25-<gen>.bin``, one file that opens without parsing:

    magic (8 bytes) | header length (8 bytes, little-endian) | JSON header | arrays, 64-byte aligned

The JSON header names each array's dtype, shape and offset. :func:`open_postings` maps the file
read-only and wraps its arrays with ``numpy.frombuffer``: nothing is copied, so every process that
serves the index shares the same page-cache pages (``serve --workers N``). Terms are stored sorted
(UTF-8 bytes, which sort as code points) and looked up by binary search on the mapped bytes, so the
vocabulary costs no private memory either.

The file holds exactly the ``lexical`` rows committed at generation ``<gen>`` (read in the same
transaction as the vector snapshot). Rows committed later have larger rowids (AUTOINCREMENT), so a
reader adds ``rowid > max_rowid`` from the database, as for the vectors (docs/design.md).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat
from pathlib import Path
from typing import Protocol

import numpy as np

from thaigov_search.store.fts5 import BODY_WEIGHT, TITLE_WEIGHT, fts_tokens
from thaigov_search.store.schema import IndexCorruptError

MAGIC = b"TGBM25\x00\x01"
ALIGN = 64
ARRAYS = ("rowids", "indptr", "indices", "data", "lengths", "term_bytes", "term_offsets")


class Vocab(Protocol):
    def get(self, term: str, default: int | None = None) -> int | None: ...

    def __len__(self) -> int: ...


class SortedVocab:
    """term -> column by binary search over sorted UTF-8 terms (a mapped file; no dict to build)."""

    def __init__(self, term_bytes: np.ndarray, term_offsets: np.ndarray):
        self._bytes = term_bytes.data  # memoryview: slicing it copies only the term compared
        self._offsets = term_offsets
        self._n = len(term_offsets) - 1

    def __len__(self) -> int:
        return self._n

    def get(self, term: str, default: int | None = None) -> int | None:
        key = term.encode("utf-8")
        data, offsets = self._bytes, self._offsets
        lo, hi = 0, self._n
        while lo < hi:
            mid = (lo + hi) // 2
            if bytes(data[offsets[mid]:offsets[mid + 1]]) < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < self._n and bytes(data[offsets[lo]:offsets[lo + 1]]) == key:
            return lo
        return default


@dataclass(frozen=True)
class Postings:
    """Articles x terms, column-major: column ``j`` holds ``indices[indptr[j]:indptr[j+1]]`` (row
    positions) and ``data[...]`` (title-weighted term frequencies); ``rowids`` ascending."""

    rowids: np.ndarray  # int64 article rowids, ascending
    indptr: np.ndarray  # int64, terms + 1
    indices: np.ndarray  # int32 row positions
    data: np.ndarray  # float32 weighted frequency (whole numbers: exact)
    lengths: np.ndarray  # int32 tokens per row (title + body)
    vocab: Vocab

    @cached_property
    def doc_freq(self) -> np.ndarray:
        return np.diff(self.indptr)

    @cached_property
    def total_length(self) -> float:
        """Tokens in all rows (for FTS5's average row length)."""
        return float(self.lengths.sum(dtype=np.int64))

    @property
    def max_rowid(self) -> int:
        return int(self.rowids[-1]) if len(self.rowids) else 0

    def column(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(row positions, weighted frequencies) of one term, or None when absent."""
        j = self.vocab.get(term)
        if j is None:
            return None
        start, end = int(self.indptr[j]), int(self.indptr[j + 1])
        return self.indices[start:end], self.data[start:end]

    def rows_after(self, rowid: int) -> Postings:
        """The rows above ``rowid`` (copied; used on the small part added since a snapshot)."""
        from scipy import sparse

        keep = np.flatnonzero(self.rowids > rowid)
        matrix = sparse.csc_matrix((self.data, self.indices, self.indptr),
                                   shape=(len(self.rowids), len(self.indptr) - 1))[keep, :].tocsc()
        matrix.sort_indices()
        return Postings(self.rowids[keep], matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32),
                        matrix.data.astype(np.float32), self.lengths[keep], self.vocab)


def build_postings(rows: Iterable[tuple[int, str, str]], sort_terms: bool = False) -> Postings:
    """Count the terms of (rowid, title terms, body terms) rows, ascending rowid; ``sort_terms``
    orders the columns by term (what a snapshot file stores)."""
    from scipy import sparse

    vocab: dict[str, int] = {}
    new_id = vocab.setdefault
    # typed arrays, not lists: ~25 million (article, term) pairs at 90,000 articles
    doc_pos = array("i")
    term_ids = array("i")
    weights = array("f")
    rowids = array("q")
    lengths = array("i")
    for position, (rowid, title, body) in enumerate(rows):
        title_terms = fts_tokens(title)
        body_terms = fts_tokens(body)
        counts: dict[str, float] = Counter(body_terms)  # type: ignore[assignment]
        if BODY_WEIGHT != 1.0:
            counts = {term: n * BODY_WEIGHT for term, n in counts.items()}
        for term, n in Counter(title_terms).items():
            counts[term] = counts.get(term, 0.0) + n * TITLE_WEIGHT
        ids = [new_id(term, len(vocab)) for term in counts]
        term_ids.extend(ids)
        weights.extend(counts.values())
        doc_pos.extend(repeat(position, len(ids)))
        rowids.append(rowid)
        lengths.append(len(title_terms) + len(body_terms))
    terms = list(vocab)
    columns = np.frombuffer(term_ids, dtype=np.int32)
    if sort_terms and terms:
        order = sorted(range(len(terms)), key=terms.__getitem__)
        new_column = np.empty(len(terms), dtype=np.int32)
        new_column[order] = np.arange(len(terms), dtype=np.int32)
        columns = new_column[columns]
        terms = [terms[i] for i in order]
        vocab = {term: j for j, term in enumerate(terms)}
    matrix = sparse.csc_matrix(
        (np.frombuffer(weights, dtype=np.float32), (np.frombuffer(doc_pos, dtype=np.int32), columns)),
        shape=(len(rowids), len(terms)),
    )
    matrix.sort_indices()
    return Postings(
        rowids=np.frombuffer(rowids, dtype=np.int64).copy(),
        indptr=matrix.indptr.astype(np.int64),
        indices=matrix.indices.astype(np.int32),
        data=matrix.data.astype(np.float32),
        lengths=np.frombuffer(lengths, dtype=np.int32).copy(),
        vocab=vocab,
    )


def write_postings(postings: Postings, terms: list[str], path: Path) -> None:
    """Write ``postings`` (columns in the order of ``terms``, sorted) to ``path`` and fsync it."""
    encoded = [t.encode("utf-8") for t in terms]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    arrays = {
        "rowids": postings.rowids, "indptr": postings.indptr, "indices": postings.indices,
        "data": postings.data, "lengths": postings.lengths,
        "term_bytes": np.frombuffer(b"".join(encoded), dtype=np.uint8), "term_offsets": offsets,
    }
    header: dict[str, list] = {}
    position = 0
    for name, values in arrays.items():
        header[name] = [values.dtype.str, list(values.shape), position]
        position += _aligned(values.nbytes)
    text = json.dumps({"arrays": header}).encode("utf-8")
    start = _aligned(len(MAGIC) + 8 + len(text))
    with open(path, "wb") as fh:
        fh.write(MAGIC + struct.pack("<Q", len(text)) + text)
        fh.write(b"\0" * (start - fh.tell()))
        for values in arrays.values():
            raw = np.ascontiguousarray(values).tobytes()
            fh.write(raw)
            fh.write(b"\0" * (_aligned(len(raw)) - len(raw)))
        fh.flush()
        os.fsync(fh.fileno())


def open_postings(path: Path) -> Postings:
    """Map a file :func:`write_postings` wrote; a damaged or truncated one raises IndexCorruptError."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else None
    except OSError as exc:
        raise IndexCorruptError(f"{path} cannot be read ({exc}). Rebuild the index with `thaigov-search index`.") from exc
    problem = f"{path} is damaged. Rebuild the index with `thaigov-search index`."
    if mapped is None or mapped[:len(MAGIC)] != MAGIC:
        raise IndexCorruptError(problem)
    try:
        (length,) = struct.unpack("<Q", mapped[len(MAGIC):len(MAGIC) + 8])
        header = json.loads(mapped[len(MAGIC) + 8:len(MAGIC) + 8 + length])["arrays"]
        start = _aligned(len(MAGIC) + 8 + length)
        arrays = {}
        for name in ARRAYS:
            dtype, shape, offset = header[name]
            count = int(np.prod(shape, dtype=np.int64))
            arrays[name] = np.frombuffer(mapped, dtype=np.dtype(dtype), count=count, offset=start + offset).reshape(shape)
    except (ValueError, KeyError, TypeError, struct.error) as exc:  # truncated: frombuffer runs past the end
        raise IndexCorruptError(f"{problem} ({exc})") from exc
    indptr, n_rows = arrays["indptr"], len(arrays["rowids"])
    if len(indptr) != len(arrays["term_offsets"]) or (len(indptr) and int(indptr[-1]) != len(arrays["indices"])) \
            or len(arrays["data"]) != len(arrays["indices"]) or len(arrays["lengths"]) != n_rows:
        raise IndexCorruptError(f"{problem} (inconsistent array sizes)")
    return Postings(arrays["rowids"], indptr, arrays["indices"], arrays["data"], arrays["lengths"],
                    SortedVocab(arrays["term_bytes"], arrays["term_offsets"]))


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN
