"""BM25 postings of the ``lexical`` table: counted in memory, or written once and memory-mapped.

A service used to count the stored terms of every article at start-up (17.5-34 s at the full
91,792-release corpus, docs/performance.md). The writer now counts them once per snapshot and
writes them beside the vector snapshot as ``bm25-<gen>.bin``, one file of store/mapped.py's
container that opens without parsing: :func:`open_postings` maps it, nothing is copied, so every
process that serves the index shares the same page-cache pages (``serve --workers N``). Terms are
stored sorted and looked up by binary search on the mapped bytes (:class:`SortedStrings`), so the
vocabulary costs no private memory either.

The file holds exactly the ``lexical`` rows committed at generation ``<gen>`` (read in the same
transaction as the vector snapshot). Rows committed later have larger rowids (AUTOINCREMENT), so a
reader adds ``rowid > max_rowid`` from the database, as for the vectors (docs/design.md).
"""

from __future__ import annotations

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
from thaigov_search.store.mapped import SortedStrings, encode_strings, open_arrays, write_arrays
from thaigov_search.store.schema import IndexCorruptError

MAGIC = b"TGBM25\x00\x01"
ARRAYS = ("rowids", "indptr", "indices", "data", "lengths", "term_bytes", "term_offsets")


class Vocab(Protocol):
    def get(self, term: str, default: int | None = None) -> int | None: ...

    def __len__(self) -> int: ...


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
    term_bytes, term_offsets = encode_strings(terms)
    write_arrays(path, MAGIC, {
        "rowids": postings.rowids, "indptr": postings.indptr, "indices": postings.indices,
        "data": postings.data, "lengths": postings.lengths, "term_bytes": term_bytes, "term_offsets": term_offsets,
    })


def open_postings(path: Path) -> Postings:
    """Map a file :func:`write_postings` wrote; a damaged or truncated one raises IndexCorruptError."""
    arrays = open_arrays(path, MAGIC, ARRAYS)
    indptr, n_rows = arrays["indptr"], len(arrays["rowids"])
    if len(indptr) != len(arrays["term_offsets"]) or (len(indptr) and int(indptr[-1]) != len(arrays["indices"])) \
            or len(arrays["data"]) != len(arrays["indices"]) or len(arrays["lengths"]) != n_rows:
        raise IndexCorruptError(f"{path} is damaged. Rebuild the index with `thaigov-search index`. (inconsistent array sizes)")
    return Postings(arrays["rowids"], indptr, arrays["indices"], arrays["data"], arrays["lengths"],
                    SortedStrings(arrays["term_bytes"], arrays["term_offsets"]))
