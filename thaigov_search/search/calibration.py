"""Dense scores made comparable across document languages.

multilingual-e5 scores an English query against English releases higher than against Thai
releases of the same meaning: the embedding space keeps a language component. Over the 10k
government-news subset (2 % English) an English query's dense top 10 held 5.9 English releases on
average (thaigov-news-dev, English queries whose answer is, 9 times in 10, a Thai release).
Raw cosine therefore cannot rank a Thai and an English release against each other.

Per document language L the read path keeps the mean ``mu_L`` of the stored passage vectors. For a
query vector ``q`` the mean similarity to the documents of L is exactly ``q . mu_L``, and a
passage's calibrated score is its cosine *centred* within its own language::

    score = q . d - q . mu_L    (= q . (d - mu_L): the language's mean direction removed)

"How far above the typical document of its language" is comparable across languages where the raw
cosine is not (the language centring of Libovický et al. 2020, "On the language neutrality of
pre-trained multilingual representations"). Within one language it is the cosine minus a constant,
so a one-language index ranks exactly as before, and min-max fusion is unchanged there too.

Dividing by each language's standard deviation as well (a z-score) was measured and rejected: an
English query's similarities to Thai releases are compressed (small deviation), so z-scores inflate
them and English releases of the very same story lost to merely related Thai ones (headline->body,
English: MRR@10 0.50 against 0.66 centred; docs/quality.md).

Because an English query's nearest passages can all be English, the dense candidates are fetched
per language (:attr:`LanguageStats.pids`), so each language contributes its own best documents
before the centred scores are merged.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from thaigov_search.store import queries

if TYPE_CHECKING:
    import sqlite3

logger = logging.getLogger(__name__)

SAMPLE_PER_LANGUAGE = 20_000  # passages read per language for the statistics (they settle far earlier)
RECOMPUTE_SHARE = 0.05  # recompute the statistics when a language's passage count moved this much
MIN_PASSAGES = 20  # a language with fewer embedded passages is not calibrated (too few to estimate)


@dataclass(frozen=True)
class LanguageStats:
    """Per document language: embedded passage ids, and the mean of their vectors."""

    generation: int
    pids: dict[str, np.ndarray]  # language -> passage ids (int64, exact at ``generation``)
    mean: dict[str, np.ndarray]  # language -> mean vector (float64)
    counts_at_estimate: dict[str, int]

    @property
    def languages(self) -> list[str]:
        return sorted(self.pids)

    def calibrated(self, languages: list[str]) -> bool:
        """Whether scores need calibrating: more than one language holds enough passages."""
        return sum(1 for lang in languages if lang in self.mean) > 1

    def offsets(self, query: np.ndarray) -> dict[str, float]:
        """language -> the query's mean similarity to that language's passages."""
        q = np.asarray(query, dtype=np.float64)
        return {lang: float(q @ mu) for lang, mu in self.mean.items()}


def estimate(conn: sqlite3.Connection, pids: np.ndarray, dimension: int) -> np.ndarray:
    """Mean of (an evenly spaced sample of) these passages' vectors."""
    step = max(1, math.ceil(len(pids) / SAMPLE_PER_LANGUAGE))
    return queries.passage_vectors(conn, pids[::step].tolist(), dimension).astype(np.float64).mean(axis=0)


def language_stats(conn: sqlite3.Connection, dimension: int, generation: int,
                   previous: LanguageStats | None = None) -> LanguageStats:
    """Statistics at ``generation``: pid lists always exact; means re-estimated only for a language
    whose passage count moved by more than RECOMPUTE_SHARE since its last estimate."""
    pids = queries.embedded_pids_by_language(conn)
    mean: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for lang, ids in pids.items():
        if len(ids) < MIN_PASSAGES:
            continue
        before = previous.counts_at_estimate.get(lang) if previous else None
        if previous is not None and before and lang in previous.mean \
                and abs(len(ids) - before) <= RECOMPUTE_SHARE * before:
            mean[lang], counts[lang] = previous.mean[lang], before
            continue
        mean[lang] = estimate(conn, ids, dimension)
        counts[lang] = len(ids)
        logger.info("dense calibration: %s, %d passages", lang, len(ids))
    return LanguageStats(generation, pids, mean, counts)


def calibrate(scores: dict[int, float], doc_language: dict[int, str], offsets: dict[str, float]) -> dict[int, float]:
    """Centre each document's cosine within its language (a language too small to estimate gets
    the mean offset of the others)."""
    if not offsets:
        return dict(scores)
    fallback = float(np.mean(list(offsets.values())))
    return {key: value - offsets.get(doc_language.get(key, ""), fallback) for key, value in scores.items()}
