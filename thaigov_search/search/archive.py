"""From a fused ranking to what a news archive shows: the result set, recency, date order, folded
near-duplicates and facet counts (issue #14).

The steps, in order (:func:`arrange`), each a pure function of the candidates and :class:`Facts`:

0. **Twins** (hybrid only, ``twin_lift``, search.twins): each release scores at least ``twin_lift``
   of its English <-> Thai twin's fused score, and a twin of a member of the result set is a member.
1. **Recency** (``recency`` = half-life in days, 0 = off): every score of the fused ranking is
   multiplied by ``0.5 ** (age / half_life)``, age counted back from the newest release in the
   index (undated releases are not decayed). It comes *after* fusion, so an old release that is
   the only real match still shows: it only loses places to other matches.
2. **The result set** (what ``total`` and the facets count): the articles that match the query
   lexically, BM25 at least ``lexical_match_share`` (0.3) of the query's ideal BM25 (every query
   word once in a body of average length; the whole index is searched for them, up to
   :data:`RESULT_SET_MAX`), plus the dense candidates whose calibrated cosine is within
   ``dense_margin`` (0.12) of the best one's. ``lexical`` mode uses the first part only, ``dense``
   the second. The page shows the fused ranking restricted to the set, then the set's lexical
   matches beyond the ranked candidates (BM25 order, score 0).
3. **Order**: ``relevance`` (the above), ``date_desc`` / ``date_asc`` (the whole set by date,
   undated last, relevance breaking ties).
4. **Collapse** (default on; ``collapse=false`` shows every version): of a group of near-duplicates (store.duplicates) only the first in
   that order is kept; it carries ``duplicates`` = how many of its group were folded into it.
5. **Facets**: counts per category, year, month over the set, so that each count is what its filter
   gives. They add up to ``total`` (minus undated releases for year and month), except that a
   folded group whose versions differ in category (or year, month) counts under each of them.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from thaigov_search.core.modes import FACETS, SORT_ORDERS
from thaigov_search.core.settings import Settings
from thaigov_search.search.twins import both_ways, lift_twins
from thaigov_search.store import duplicates as duplicate_store
from thaigov_search.store import queries
from thaigov_search.store import twins as twin_store

RESULT_SET_MAX = 10_000
"""Most lexical matches a result set holds (and so the largest ``total``); the API's offset limit too."""


@dataclass(frozen=True)
class ArrangeOptions:
    sort: str = "relevance"
    recency: float = 0.0  # half-life in days; 0 = off
    collapse: bool = True
    facets: tuple[str, ...] = ()
    lexical_match_share: float = 0.3
    dense_margin: float = 0.12
    twin_lift: float = 0.0  # search.twins; 0 = off


def arrange_options(settings: Settings, sort: str = "relevance", recency: float | None = None,
                    collapse: bool | None = None, facets: tuple[str, ...] = ()) -> ArrangeOptions:
    """A request's choices checked (ValueError with the reason), the settings' defaults for the rest."""
    if sort not in SORT_ORDERS:
        raise ValueError(f"Unknown sort '{sort}': use one of {', '.join(SORT_ORDERS)}.")
    unknown = [f for f in facets if f not in FACETS]
    if unknown:
        raise ValueError(f"Unknown facet '{unknown[0]}': use any of {', '.join(FACETS)}.")
    recency = settings.recency_half_life_days if recency is None else recency
    if recency < 0:
        raise ValueError("recency must be a half-life in days >= 0 (0 = off)")
    return ArrangeOptions(sort=sort, recency=recency,
                          collapse=settings.collapse_duplicates if collapse is None else collapse,
                          facets=tuple(dict.fromkeys(facets)), lexical_match_share=settings.lexical_match_share,
                          dense_margin=settings.dense_margin, twin_lift=settings.twin_lift)


@dataclass
class Listing:
    """The arranged result list: (rowid, score) best first, with the folded-duplicate counts and facets."""

    items: list[tuple[int, float]]
    folded: dict[int, int]
    facets: dict[str, list[dict]]


class Facts:
    """Per-article facts every search may need, loaded once per index generation: dates (ordinal
    days, 0 = undated), categories, the near-duplicate groups and the English <-> Thai twins.
    91,792 articles load in ~0.2 s; groups and twins alone (all a default search needs) in milliseconds."""

    def __init__(self, generation: int, conn, with_articles: bool):
        self.generation = generation
        self.twin = both_ways(twin_store.all_links(conn))  # rowid -> its twin's rowid
        self.group = duplicate_store.groups(duplicate_store.all_pairs(conn))  # rowid -> group root
        self.members: dict[int, list[int]] = {}
        for member, root in self.group.items():
            self.members.setdefault(root, []).append(member)
        self.has_articles = with_articles
        if with_articles:
            rows = queries.article_facts(conn)
            size = (max((r[0] for r in rows), default=0)) + 1
            self.day = np.zeros(size, dtype=np.int32)
            self.year = np.zeros(size, dtype=np.int16)
            self.month = np.zeros(size, dtype=np.int8)
            self.category = np.full(size, -1, dtype=np.int32)
            names: dict[str, int] = {}
            for rowid, date, category in rows:
                self.category[rowid] = names.setdefault(category, len(names))
                if date:
                    try:
                        day = dt.date.fromisoformat(date)
                    except ValueError:
                        continue
                    self.day[rowid], self.year[rowid], self.month[rowid] = day.toordinal(), day.year, day.month
            self.category_names = list(names)
            self.newest = int(self.day.max()) if size else 0

    def day_of(self, rowid: int) -> int:
        return int(self.day[rowid]) if rowid < len(self.day) else 0


class FactsCache:
    """The current :class:`Facts`, rebuilt when the index's generation moves (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._facts: Facts | None = None

    def get(self, generation: int, conn, with_articles: bool) -> Facts:
        with self._lock:
            facts = self._facts
            if facts is None or facts.generation != generation or (with_articles and not facts.has_articles):
                facts = Facts(generation, conn, with_articles)
                self._facts = facts
            return facts


def decay(ranked: Sequence[tuple[int, float]], facts: Facts, half_life: float) -> list[tuple[int, float]]:
    """Recency after fusion: scores (shifted to be non-negative) times 0.5 ** (age / half_life)."""
    if half_life <= 0 or not ranked or not facts.newest:
        return list(ranked)
    low = min(0.0, min(score for _, score in ranked))
    out = []
    for rowid, score in ranked:
        day = facts.day_of(rowid)
        factor = 0.5 ** ((facts.newest - day) / half_life) if day else 1.0
        out.append((rowid, (score - low) * factor))
    out.sort(key=lambda kv: (-kv[1], kv[0]))
    return out


def result_set(mode: str, dense: Mapping[int, float], matches: Mapping[int, float], margin: float,
               dense_top: float | None = None, dense_scope: set[int] | None = None) -> set[int]:
    """The articles a query finds (module doc, step 2). With a filter, ``dense_top`` and
    ``dense_scope`` are the unfiltered query's best dense score and dense candidates: a filter then
    keeps exactly its share of the unfiltered set (what its facet count said)."""
    members: set[int] = set()
    if mode != "dense":
        members.update(matches)
    if mode != "lexical" and dense:
        top = max(dense.values()) if dense_top is None else dense_top
        members.update(rowid for rowid, score in dense.items()
                       if score >= top - margin and (dense_scope is None or rowid in dense_scope))
    return members


def arrange(ranked: Sequence[tuple[int, float]], mode: str, dense: Mapping[int, float], matches: Mapping[int, float],
            options: ArrangeOptions, facts: Callable[[bool], Facts], dense_top: float | None = None,
            dense_scope: set[int] | None = None, allowed: Callable[[Collection[int]], set[int]] | None = None) -> Listing:
    """Steps 0-5 of the module doc. ``facts(with_articles)`` gives the index facts (loaded lazily:
    a default search needs only the duplicate groups and the twins); ``allowed`` (rowids -> those the
    request's filter lets through; None: no filter) keeps filtered-out twins out."""
    needs_articles = options.sort != "relevance" or options.recency > 0 or bool(options.facets)
    lifting = mode == "hybrid" and options.twin_lift > 0
    known = facts(needs_articles) if (needs_articles or options.collapse or lifting) else None
    twin = known.twin if lifting and known is not None else {}
    if twin:
        ranked = lift_twins(ranked, twin, options.twin_lift, allowed)
    if options.recency > 0 and known is not None:
        ranked = decay(ranked, known, options.recency)
    members = result_set(mode, dense, matches, options.dense_margin, dense_top, dense_scope)
    if twin:
        ranked_keys = {rowid for rowid, _ in ranked}
        members |= {twin[m] for m in list(members) if m in twin and twin[m] in ranked_keys}
    items = [(rowid, score) for rowid, score in ranked if rowid in members]
    shown = {rowid for rowid, _ in items}
    extra = sorted(((rowid, bm25) for rowid, bm25 in matches.items() if rowid in members and rowid not in shown),
                   key=lambda kv: (-kv[1], kv[0]))
    items += [(rowid, 0.0) for rowid, _ in extra]
    if options.sort != "relevance" and known is not None:
        position = {rowid: i for i, (rowid, _) in enumerate(items)}
        newest_first = options.sort == "date_desc"
        items.sort(key=lambda kv: (known.day_of(kv[0]) == 0,
                                   -known.day_of(kv[0]) if newest_first else known.day_of(kv[0]),
                                   position[kv[0]]))
    folded: dict[int, int] = {}
    folded_into: dict[int, list[int]] = {}
    if options.collapse and known is not None and known.group:
        kept, first_of = [], {}
        for rowid, score in items:
            root = known.group.get(rowid)
            if root is None:
                kept.append((rowid, score))
            elif root in first_of:
                folded[first_of[root]] = folded.get(first_of[root], 0) + 1
                folded_into.setdefault(first_of[root], []).append(rowid)
            else:
                first_of[root] = rowid
                kept.append((rowid, score))
        items = kept
    return Listing(items, folded, facet_counts(items, known, options.facets, folded_into) if options.facets else {})


def facet_counts(items: Sequence[tuple[int, float]], facts: Facts | None, names: Sequence[str],
                 folded_into: Mapping[int, Sequence[int]] | None = None) -> dict[str, list[dict]]:
    """Counts per category (largest first, then name), year and month (oldest first) over ``items``.

    ``folded_into`` (shown rowid -> the versions folded into it): a folded group counts once under
    each value any of its versions has, because filtering by that value shows the version that has
    it. So a count is always what its filter gives; with versions in two categories the category
    counts then add up to more than ``total``."""
    if facts is None or not names:
        return {}
    folded_into = folded_into or {}
    rowid_list, group_list = [], []
    for group, (rowid, _) in enumerate(items):
        for member in (rowid, *folded_into.get(rowid, ())):
            rowid_list.append(member)
            group_list.append(group)
    rowids, groups = np.array(rowid_list, dtype=np.int64), np.array(group_list, dtype=np.int64)
    known = rowids < len(facts.day)
    rowids, groups = rowids[known], groups[known]
    out: dict[str, list[dict]] = {}
    if "category" in names:
        codes = facts.category[rowids]
        values, counts = once_per_group(groups[codes >= 0], codes[codes >= 0])
        pairs = [(facts.category_names[int(v)], int(n)) for v, n in zip(values, counts, strict=True)]
        out["category"] = [{"value": v, "count": n} for v, n in sorted(pairs, key=lambda p: (-p[1], p[0]))]
    years = facts.year[rowids].astype(np.int64)
    dated = years > 0
    if "year" in names:
        values, counts = once_per_group(groups[dated], years[dated])
        out["year"] = [{"value": str(int(v)), "count": int(n)} for v, n in zip(values, counts, strict=True)]
    if "month" in names:
        keys = years[dated] * 100 + facts.month[rowids][dated]
        values, counts = once_per_group(groups[dated], keys)
        out["month"] = [{"value": f"{int(v) // 100:04d}-{int(v) % 100:02d}", "count": int(n)}
                        for v, n in zip(values, counts, strict=True)]
    return out


def once_per_group(groups: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value with the number of distinct groups that have it."""
    if not len(values):
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    pairs = np.unique(np.stack([groups, values.astype(np.int64)]), axis=1)
    return np.unique(pairs[1], return_counts=True)


def lexical_floor(ideal_bm25: float, share: float) -> float:
    """The BM25 an article needs to count as a lexical match (module doc, step 2)."""
    return share * ideal_bm25 if ideal_bm25 > 0 and math.isfinite(ideal_bm25) else math.inf
