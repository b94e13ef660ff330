"""Combining dense and lexical evidence into one document ranking.

Each retriever's document scores are min-max normalised over its own candidates, then mixed with a
lexical weight of ``0.5 x coverage x max(agreement, strong match)`` (0.55 instead of 0.5 in an index
that embeds only each article's lead passage: :data:`LEAD_MAX_LEXICAL_WEIGHT`):

* coverage (``QueryTerms.coverage``): the share of the query's IDF mass whose words occur in the
  index at all. A Thai query whose words are all in the index gets a real BM25 vote, an English
  query over Thai text (almost no matching words) is ranked by meaning alone.
* agreement (:func:`language_agreement`): how often a document of BM25's top 10 and one of the
  dense top 10 are in the same language. Lexical evidence only counts where it can point at the
  answer: an English query over the government news (2 % English releases) matches its words in
  English releases, so BM25's top 10 is English, while the calibrated dense top 10
  (search.calibration) is mostly the Thai releases of that meaning; agreement is then ~0.1 and
  BM25 barely votes. In a one-language index agreement is 1 and the weight is the coverage rule that
  was tuned on the Wikipedia sets (docs/quality.md). Before issue #11 the weight was coverage alone,
  and English queries over the news got a full lexical vote for English word matches (hybrid fell
  below its own dense part).

* strong match (:func:`lexical_evidence`): when BM25's best document holds at least 60 % of the
  query's IDF mass, BM25 keeps (part of) its vote whatever the languages: the words themselves are
  then the evidence (an English headline and its own English release).

A query that names a year or month (search.query_dates) adds ``date_weight x fit`` to each
fused score, where fit is 1 for a release of that year (and month), 0.5 for the right year but
another month: a soft preference, never a filter.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_LEXICAL_WEIGHT = 0.5
# With only each article's lead passage embedded (the large-corpus default) the dense side sees the
# start of an article while BM25 sees all of it, so BM25 gets a slightly larger share. Measured on
# 2026-12-03 (ranking_lab, default model, onnx-int8, lead indexes): Thai Wikipedia hybrid nDCG@10
# 0.9427 at 0.5, below BM25 alone (0.9443), 0.9455 at 0.55, 0.9471 at 0.6; the news sets at 0.55:
# newsdev Thai 0.876 -> 0.878 and English 0.680 -> 0.679 MRR@10, headline -> body 0.828 -> 0.829,
# Thai paraphrases 0.674 -> 0.652 (32 queries); at 0.6 newsdev Thai falls to 0.869. With every passage
# embedded 0.5 stays (tuned there on Wikipedia, issue #3).
LEAD_MAX_LEXICAL_WEIGHT = 0.55
LEAD_VECTORS_PER_ARTICLE = 1.5  # an index with at most this many vectors per article is a lead index
# BM25's best document holding at least this share of the query's IDF mass keeps BM25's vote even
# when the two retrievers' top lists disagree on language (lexical_evidence). Measured on the
# headline -> body set with the adapted model (docs/quality.md): 0.6 lifts English headlines from
# 0.625 to 0.763 MRR@10 (BM25 alone: 0.763); 0.7 gives 0.716, 0.8 gives 0.675.
STRONG_MATCH_FROM = 0.6
TOP_DOCS = 10  # documents of each retriever whose languages are compared (10 and 20 measured alike)


def normalise(scores: Mapping[int, float]) -> dict[int, float]:
    """Min-max to [0, 1] over this retriever's candidates; a single candidate gets 1."""
    if not scores:
        return {}
    hi, lo = max(scores.values()), min(scores.values())
    if hi - lo < 1e-12:
        return dict.fromkeys(scores, 1.0)
    return {key: (value - lo) / (hi - lo) for key, value in scores.items()}


def max_lexical_weight(vectors_per_article: float) -> float:
    """BM25's largest share for an index with this many embedded passages per article."""
    return LEAD_MAX_LEXICAL_WEIGHT if vectors_per_article <= LEAD_VECTORS_PER_ARTICLE else MAX_LEXICAL_WEIGHT


def lexical_weight(coverage: float, max_weight: float = MAX_LEXICAL_WEIGHT) -> float:
    return max(0.0, min(1.0, coverage)) * max_weight


def fuse(dense: Mapping[int, float], lexical: Mapping[int, float], weight: float) -> list[tuple[int, float]]:
    """Weighted sum of normalised scores; documents missing from one list get 0 from it."""
    d, lx = normalise(dense), normalise(lexical)
    keys = set(d) | set(lx)
    fused = {key: (1.0 - weight) * d.get(key, 0.0) + weight * lx.get(key, 0.0) for key in keys}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))



def top_keys(scores: Mapping[int, float], size: int = TOP_DOCS) -> list[int]:
    """A retriever's top documents (ties by key, as the rankings)."""
    return [key for key, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:size]]


def language_agreement(dense_languages: list[str], lexical_languages: list[str]) -> float:
    """Probability that a document of one top list and one of the other share their language
    (1.0 in a one-language index; 0.0 when either list is empty)."""
    if not dense_languages or not lexical_languages:
        return 0.0
    shares = {}
    for lang in set(dense_languages):
        shares[lang] = (dense_languages.count(lang) / len(dense_languages)) * (
            lexical_languages.count(lang) / len(lexical_languages))
    return sum(shares.values())


def lexical_evidence(coverage: float, agreement: float, top_match: float,
                     match_from: float = STRONG_MATCH_FROM) -> float:
    """How much BM25 may vote: ``coverage x max(agreement, strength)``.

    Language agreement (above) keeps English word matches in English releases from outvoting the
    Thai releases that an English query means. But when BM25's best document holds nearly every
    word of the query (``top_match``: its share of the query's IDF mass), the words themselves are
    the evidence, whatever the language: an English headline finds its own English release that
    way. ``strength`` rises from 0 at ``match_from`` to 1 when every word is there."""
    strength = max(0.0, (top_match - match_from) / (1.0 - match_from)) if match_from < 1.0 else 0.0
    return coverage * max(agreement, strength)


def hybrid_ranking(dense: Mapping[int, float], lexical: Mapping[int, float], terms,
                   evidence: float | None = None, dates: Mapping[int, float] | None = None,
                   date_weight: float = 0.0, max_weight: float = MAX_LEXICAL_WEIGHT) -> list[tuple[int, float]]:
    """The default hybrid (module doc): the lexical weight, at most ``max_weight``
    (:func:`max_lexical_weight`), scales with ``evidence`` (coverage x language agreement), or with
    the index-wide coverage alone when that is not given; ``dates`` (key -> date fit 0..1) adds a
    soft preference of ``date_weight``."""
    coverage = terms.coverage if evidence is None else evidence
    ranked = fuse(dense, lexical, lexical_weight(coverage, max_weight))
    if dates and date_weight:
        ranked = sorted(((key, score + date_weight * dates.get(key, 0.0)) for key, score in ranked),
                        key=lambda kv: (-kv[1], kv[0]))
    return ranked
