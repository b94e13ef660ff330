"""English <-> Thai twins in ranking: a query that finds one language's version of a release finds the other's.

The index links an English release to the Thai release of the same event (indexing/twins.py,
store/twins.py). The two retrievers see them unequally: an English query matches the English
version's words (BM25) and sits closer to it in the model's space, a Thai query the reverse. So
after fusion, each release scores at least ``lift`` times its twin's fused score (scores shifted to
be non-negative first): the other-language version then ranks just below the version the query
found, instead of wherever its own evidence put it. A twin outside the query's candidates joins the
ranking that way, and the result set with it (search.archive), unless a filter excludes it.

``lift`` < 1 keeps the version the query found first; 0 turns it off. Only hybrid ranking lifts: the
``dense`` and ``lexical`` modes show one retriever as it is. Measured in docs/quality.md.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence


def lift_twins(ranked: Sequence[tuple[int, float]], twin_of: Mapping[int, int], lift: float,
               allowed: Callable[[Collection[int]], set[int]] | None = None) -> list[tuple[int, float]]:
    """``ranked`` ((rowid, score) best first) with every twin scored at least ``lift`` x its
    partner's score; ``allowed`` (rowids -> those a filter lets through) keeps out twins a filter
    excludes. Best first again, ties by rowid."""
    if lift <= 0 or not ranked or not twin_of:
        return list(ranked)
    low = min(0.0, min(score for _, score in ranked))
    scores = {rowid: score - low for rowid, score in ranked}
    wanted = {twin_of[rowid]: lift * score for rowid, score in scores.items() if rowid in twin_of}
    newcomers = [rowid for rowid in wanted if rowid not in scores]
    if allowed is not None and newcomers:
        outside = set(newcomers) - allowed(newcomers)
        wanted = {rowid: score for rowid, score in wanted.items() if rowid not in outside}
    for rowid, score in wanted.items():
        if score > scores.get(rowid, -1.0):
            scores[rowid] = score
    return sorted(((rowid, score + low) for rowid, score in scores.items()), key=lambda kv: (-kv[1], kv[0]))


def both_ways(links: Sequence[tuple[int, int]]) -> dict[int, int]:
    """rowid -> its twin's rowid, from (English rowid, Thai rowid) links."""
    out: dict[int, int] = {}
    for en, th in links:
        out[en], out[th] = th, en
    return out
