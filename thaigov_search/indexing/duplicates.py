"""Near-duplicate releases by word-level similarity: MinHash (datasketch) over word shingles of the
segmented text.

The same release is often published more than once (re-posted with a corrected title, a new photo
caption, the same cabinet resolution under two sections). Those versions share almost every
sentence; related but different releases (the same minister at two events) share phrases only. So
two releases are versions of one when the Jaccard similarity of their sets of ``SHINGLE_WORDS``-word
shingles is at least ``duplicate_threshold`` (0.8 by default, settings), estimated from MinHash
signatures (:mod:`thaigov_search.store.duplicates`: NUM_PERM values, LSH bands to find the pairs to
compare). The words are the index's own BM25 terms (newmm segmentation, normalised, lower-cased,
punctuation dropped) of title and body, so formatting differences do not count. Embeddings alone
would not do: releases on one subject sit close in meaning whether or not they are the same text.

The index compares each new article with the stored ones inside its write transaction
(:meth:`IndexWriter.write_batch`); :class:`DuplicateFinder` does the same in memory (the
full-corpus benchmark, benchmarks/duplicates_full_corpus.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from datasketch import MinHash
from tqdm import tqdm

from thaigov_search.store.duplicates import NUM_PERM, band_keys, groups, similarity
from thaigov_search.store.fts5 import fts_tokens

logger = logging.getLogger(__name__)

SHINGLE_WORDS = 5
"""Words per shingle. Thai newmm words are short (a 5-word shingle is about two English words'
worth of text), so 5 keeps shared stock phrases ("นายกรัฐมนตรี ได้ เดิน ทาง ไป") from making
different releases look alike while one changed word still leaves most shingles intact."""
SEED = 1


@lru_cache(maxsize=1)
def _permutations():
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32").permutations


def terms_of(title_terms: str, body_terms: str) -> list[str]:
    """The words compared: the stored BM25 terms of title and body (as the lexical table holds them)."""
    return fts_tokens(title_terms) + fts_tokens(body_terms)


def shingles(words: Sequence[str], size: int = SHINGLE_WORDS) -> set[bytes]:
    """Distinct ``size``-word shingles (a shorter text is one shingle of all its words)."""
    if not words:
        return set()
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def signature(words: Sequence[str]) -> np.ndarray | None:
    """The MinHash signature (uint32 x NUM_PERM) of the text's shingles; None for an empty text."""
    found = shingles(words)
    if not found:
        return None
    sketch = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32", permutations=_permutations())
    sketch.update_batch(found)
    return np.asarray(sketch.hashvalues, dtype=np.uint32)


def signature_of_tokens(title_tokens: Sequence[str], body_tokens: Sequence[str]) -> np.ndarray | None:
    """Signature of an article from its index tokens, exactly as a stored article's would be computed."""
    return signature(terms_of(" ".join(title_tokens), " ".join(body_tokens)))


class DuplicateFinder:
    """The index's duplicate detection in memory: add signatures one by one, read the groups."""

    def __init__(self, threshold: float = 0.8):
        self.threshold = threshold
        self.signatures: dict[object, np.ndarray] = {}
        self.bands: dict[int, list[object]] = {}
        self.pairs: list[tuple[object, object, float]] = []

    def add(self, key, sig: np.ndarray | None) -> None:
        if sig is None:
            return
        keys = band_keys(sig)
        seen = set()
        for band in keys:
            for other in self.bands.get(band, ()):
                if other not in seen:
                    seen.add(other)
                    sim = similarity(sig, self.signatures[other])
                    if sim >= self.threshold:
                        self.pairs.append((other, key, sim))
        self.signatures[key] = sig
        for band in keys:
            self.bands.setdefault(band, []).append(key)

    def groups(self) -> list[list]:
        """Groups of two or more, each sorted, largest first."""
        members: dict[object, list] = {}
        for member, root in groups((a, b) for a, b, _ in self.pairs).items():
            members.setdefault(root, []).append(member)
        return sorted((sorted(g) for g in members.values()), key=lambda g: (-len(g), g[0]))


def backfill(writer, progress: bool = True) -> int:
    """Sign the articles an older index stored without a signature (and find their pairs); returns
    how many were signed. Runs at the start of `thaigov-search index`: ~1.8 ms per article."""
    total = 0
    bar = None
    for batch in writer.unsigned_articles():
        if bar is None:
            logger.info("computing near-duplicate signatures of articles indexed before they existed")
            bar = tqdm(unit="article", desc="duplicate signatures", disable=not progress, dynamic_ncols=True)
        signed = [(rowid, sig) for rowid, title, body in batch
                  if (sig := signature(terms_of(title, body))) is not None]
        writer.add_signatures(signed)
        total += len(batch)
        bar.update(len(batch))
    if bar is not None:
        bar.close()
    return total

