"""Headlines in hybrid ranking: each article's title embedded on its own, mixed into its dense score.

A headline is the best one-line summary of a release, but inside the lead passage (where the indexer
prefixes it) it is a few tokens among 256 and the passage's vector is mostly the body's. So the
indexer also embeds the title alone (store: ``title_vectors``), and the dense score hybrid fuses is
``(1 - weight) x the best passage's cosine + weight x the title's cosine``, before the per-language
calibration (search.calibration), for the articles the dense search found; an article without a
title keeps its passage score. ``dense`` mode stays the passage retriever as it is.

Measured with ``eval`` (docs/quality.md, shipped model, weight 0.2 against 0): news-dev English
+0.017 (lead index) / +0.021 (every passage) MRR@10, Thai -0.005 / -0.004; paraphrases +0.018 /
+0.046; headline -> body -0.001 / +0.004; Wikipedia hybrid nDCG@10 Thai +0.001 / +0.000, English
+0.008 / +0.007. In dense mode the titles cost Thai Wikipedia 0.0035 with every passage embedded
(past the 0.005 guard against the issue's baseline together with the adapter's -0.0045), hence
hybrid only.
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
