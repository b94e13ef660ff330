"""The one file container of the index's snapshot files: named numpy arrays that open without parsing.

    magic (8 bytes) | header length (8 bytes, little-endian) | JSON header | arrays, 64-byte aligned

The JSON header names each array's dtype, shape and offset. :func:`open_arrays` maps the file
read-only and wraps its arrays with ``numpy.frombuffer``: nothing is copied, so every process that
serves the index shares the same page-cache pages (``serve --workers N``). Used by the BM25
postings (``bm25-<gen>.bin``, store/postings.py) and the suggestion phrases (``suggest-<gen>.bin``,
store/suggestions.py). Strings are stored as :class:`Strings`: UTF-8 bytes and offsets; a
:class:`SortedStrings` list is searched by bytes (UTF-8 bytes sort as code points, so the order is
Python's ``str`` order).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from thaigov_search.store.schema import IndexCorruptError

ALIGN = 64
_MAX_CHAR = "\U0010ffff".encode("utf-8")


def encode_strings(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, offsets): string ``i`` is ``bytes[offsets[i]:offsets[i+1]]``."""
    encoded = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


class Strings:
    """Strings stored as :func:`encode_strings` arrays (mapped or in memory): a Python string is made
    only for the item asked for."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray):
        self._bytes = data.data  # memoryview: slicing it copies only the string compared
        self._offsets = offsets
        self._n = len(offsets) - 1

    def __len__(self) -> int:
        return self._n

    def raw(self, i: int) -> bytes:
        return bytes(self._bytes[self._offsets[i]:self._offsets[i + 1]])

    def __getitem__(self, i: int) -> str:
        return self.raw(i).decode("utf-8")


class SortedStrings(Strings):
    """:class:`Strings` in sorted order, found by binary search (no string made but the few compared)."""

    def _bisect(self, key: bytes, lo: int = 0) -> int:
        """The first position whose string is >= ``key``."""
        hi = self._n
        while lo < hi:
            mid = (lo + hi) // 2
            if self.raw(mid) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def get(self, text: str, default: int | None = None) -> int | None:
        """The position of ``text``, or ``default``."""
        key = text.encode("utf-8")
        i = self._bisect(key)
        return i if i < self._n and self.raw(i) == key else default

    def prefix_range(self, prefix: str) -> tuple[int, int]:
        """[lo, hi): the positions of the strings that start with ``prefix``."""
        key = prefix.encode("utf-8")
        lo = self._bisect(key)
        return lo, self._bisect(key + _MAX_CHAR, lo)


def write_arrays(path: Path, magic: bytes, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` in the container format and fsync it."""
    header: dict[str, list] = {}
    position = 0
    for name, values in arrays.items():
        header[name] = [values.dtype.str, list(values.shape), position]
        position += _aligned(values.nbytes)
    text = json.dumps({"arrays": header}).encode("utf-8")
    start = _aligned(len(magic) + 8 + len(text))
    with open(path, "wb") as fh:
        fh.write(magic + struct.pack("<Q", len(text)) + text)
        fh.write(b"\0" * (start - fh.tell()))
        for values in arrays.values():
            raw = np.ascontiguousarray(values).tobytes()
            fh.write(raw)
            fh.write(b"\0" * (_aligned(len(raw)) - len(raw)))
        fh.flush()
        os.fsync(fh.fileno())


def open_arrays(path: Path, magic: bytes, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Map a file :func:`write_arrays` wrote; a missing, damaged or truncated one raises IndexCorruptError."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else None
    except OSError as exc:
        raise IndexCorruptError(f"{path} cannot be read ({exc}). Rebuild the index with `thaigov-search index`.") from exc
    problem = f"{path} is damaged. Rebuild the index with `thaigov-search index`."
    if mapped is None or mapped[:len(magic)] != magic:
        raise IndexCorruptError(problem)
    try:
        (length,) = struct.unpack("<Q", mapped[len(magic):len(magic) + 8])
        header = json.loads(mapped[len(magic) + 8:len(magic) + 8 + length])["arrays"]
        start = _aligned(len(magic) + 8 + length)
        arrays = {}
        for name in names:
            dtype, shape, offset = header[name]
            count = int(np.prod(shape, dtype=np.int64))
            arrays[name] = np.frombuffer(mapped, dtype=np.dtype(dtype), count=count, offset=start + offset).reshape(shape)
    except (ValueError, KeyError, TypeError, struct.error) as exc:  # truncated: frombuffer runs past the end
        raise IndexCorruptError(f"{problem} ({exc})") from exc
    return arrays


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN
