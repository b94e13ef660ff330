"""Headlines in the dense score: each article's title embedded on its own, mixed into its passage score.

A headline is the best one-line summary of a release, but inside the lead passage (where the indexer
prefixes it) it is a few tokens among 256 and the passage's vector is mostly the body's. So the
indexer also embeds the title alone (store: ``title_vectors``), and an article's dense score is
``(1 - weight) x its best passage's cosine + weight x its title's cosine``, before the per-language
calibration (search.calibration), for the articles the dense search found. An article without a title
keeps its passage score. Measured in docs/quality.md (ranking_lab ``title=``): with the shipped
model, a lead index and weight 0.2, news-dev English +0.015 MRR@10, paraphrases English +0.035,
both Wikipedia sets up (Thai +0.0012, English +0.008 nDCG@10).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def mix_titles(docs: Mapping[int, float], rowids: Sequence[int], title_vectors: np.ndarray, query: np.ndarray,
               weight: float) -> dict[int, float]:
    """``docs`` (rowid -> best passage cosine) with the title cosines of ``rowids`` (the rows of
    ``title_vectors``) mixed in at ``weight``."""
    out = dict(docs)
    if weight <= 0 or not len(rowids):
        return out
    cosines = title_vectors @ np.asarray(query, dtype=np.float32)
    for rowid, cosine in zip(rowids, cosines.tolist(), strict=True):
        if rowid in out:
            out[rowid] = (1.0 - weight) * out[rowid] + weight * cosine
    return out
