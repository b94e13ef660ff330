"""Dense scores made comparable across document languages.

multilingual-e5 scores an English query against English releases higher than against Thai
releases of the same meaning: the embedding space keeps a language component. Over the 10k
government-news subset (2 % English) an English query's dense top 10 held 5.5 English releases on
average (issue #11). Raw cosine therefore cannot rank a Thai and an English release against each
other.

Per document language L the read path keeps the mean ``mu_L`` and covariance ``C_L`` of the stored
passage vectors. For a query vector ``q`` the similarities to the documents of L then have mean
``q . mu_L`` and standard deviation ``sqrt(q' C_L q)`` over the whole index, exactly, and a
passage's calibrated score is its z-score within its own language::

    z = (q . d - q . mu_L) / sqrt(q' C_L q)

"How far above the typical document of its language" is comparable across languages where the raw
cosine is not (the idea of centring each language, Libovický et al. 2020, "On the language
neutrality of pre-trained multilingual representations"). Within one language it is a positive
affine map of the cosine, so a one-language index ranks exactly as before, and min-max fusion is
unchanged there too. Measured results are in docs/quality.md.

Because an English query's nearest passages can all be English, the dense candidates are fetched
per language (:meth:`LanguageStats.pids`), so each language contributes its own best documents
before the calibrated scores are merged.
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
    """Per document language: embedded passage ids, and the mean/covariance of their vectors."""

    generation: int
    pids: dict[str, np.ndarray]  # language -> passage ids (int64, exact at ``generation``)
    mean: dict[str, np.ndarray]  # language -> mean vector (float64)
    cov: dict[str, np.ndarray]  # language -> covariance (float64, d x d)
    counts_at_estimate: dict[str, int]

    @property
    def languages(self) -> list[str]:
        return sorted(self.pids)

    def calibrated(self, languages: list[str]) -> bool:
        """Whether scores need calibrating: more than one language holds enough passages."""
        return sum(1 for lang in languages if lang in self.mean) > 1

    def z_params(self, query: np.ndarray) -> dict[str, tuple[float, float]]:
        """language -> (mean, standard deviation) of the query's similarities to that language."""
        q = np.asarray(query, dtype=np.float64)
        out = {}
        for lang, mu in self.mean.items():
            var = float(q @ self.cov[lang] @ q)
            out[lang] = (float(q @ mu), math.sqrt(var) if var > 1e-12 else 1.0)
        return out


def estimate(conn: sqlite3.Connection, pids: np.ndarray, dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of (an evenly spaced sample of) these passages' vectors."""
    step = max(1, math.ceil(len(pids) / SAMPLE_PER_LANGUAGE))
    vectors = queries.passage_vectors(conn, pids[::step].tolist(), dimension).astype(np.float64)
    return vectors.mean(axis=0), np.cov(vectors.T)


def language_stats(conn: sqlite3.Connection, dimension: int, generation: int,
                   previous: LanguageStats | None = None) -> LanguageStats:
    """Statistics at ``generation``: pid lists always exact; mean/covariance re-estimated only for a
    language whose passage count moved by more than RECOMPUTE_SHARE since its last estimate."""
    pids = queries.embedded_pids_by_language(conn)
    mean: dict[str, np.ndarray] = {}
    cov: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for lang, ids in pids.items():
        if len(ids) < MIN_PASSAGES:
            continue
        before = previous.counts_at_estimate.get(lang) if previous else None
        if previous is not None and before and lang in previous.mean \
                and abs(len(ids) - before) <= RECOMPUTE_SHARE * before:
            mean[lang], cov[lang], counts[lang] = previous.mean[lang], previous.cov[lang], before
            continue
        mean[lang], cov[lang] = estimate(conn, ids, dimension)
        counts[lang] = len(ids)
        logger.info("dense calibration: %s, %d passages", lang, len(ids))
    return LanguageStats(generation, pids, mean, cov, counts)


def calibrate(scores: dict[int, float], doc_language: dict[int, str],
              params: dict[str, tuple[float, float]]) -> dict[int, float]:
    """z-score each document's cosine within its language (documents of an uncalibrated language
    keep the cosine measured against the mean parameters of all languages)."""
    if not params:
        return dict(scores)
    fallback = (float(np.mean([m for m, _ in params.values()])), float(np.mean([s for _, s in params.values()])))
    out = {}
    for key, value in scores.items():
        mu, sd = params.get(doc_language.get(key, ""), fallback)
        out[key] = (value - mu) / sd
    return out
