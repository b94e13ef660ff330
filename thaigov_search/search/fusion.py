"""Combining dense and lexical evidence into one document ranking.

Each retriever's document scores are min-max normalised over its own candidates, then mixed
with a weight that depends on how much lexical evidence the query has in this index
(``QueryTerms.coverage``): a Thai query whose words all occur in the index gets a real BM25 vote,
an English query over Thai releases (almost no matching words) is ranked by meaning alone.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_LEXICAL_WEIGHT = 0.5


def normalise(scores: Mapping[int, float]) -> dict[int, float]:
    """Min-max to [0, 1] over this retriever's candidates; a single candidate gets 1."""
    if not scores:
        return {}
    hi, lo = max(scores.values()), min(scores.values())
    if hi - lo < 1e-12:
        return dict.fromkeys(scores, 1.0)
    return {key: (value - lo) / (hi - lo) for key, value in scores.items()}


def lexical_weight(coverage: float, max_weight: float = MAX_LEXICAL_WEIGHT) -> float:
    return max(0.0, min(1.0, coverage)) * max_weight


def fuse(dense: Mapping[int, float], lexical: Mapping[int, float], weight: float) -> list[tuple[int, float]]:
    """Weighted sum of normalised scores; documents missing from one list get 0 from it."""
    d, lx = normalise(dense), normalise(lexical)
    keys = set(d) | set(lx)
    fused = {key: (1.0 - weight) * d.get(key, 0.0) + weight * lx.get(key, 0.0) for key in keys}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))



def hybrid_ranking(dense: Mapping[int, float], lexical: Mapping[int, float], terms) -> list[tuple[int, float]]:
    """The default hybrid: lexical weight scaled by the query's lexical coverage (see module doc)."""
    return fuse(dense, lexical, lexical_weight(terms.coverage))
