"""Hybrid fusion: lexical evidence counts only as much as the query has in the index."""

from __future__ import annotations

import pytest

from thaigov_search.search.fusion import MAX_LEXICAL_WEIGHT, fuse, hybrid_ranking, lexical_weight, normalise
from thaigov_search.search.lexical.terms import QueryTerms


def test_normalise_maps_each_retrievers_candidates_to_zero_one() -> None:
    assert normalise({1: 0.80, 2: 0.60, 3: 0.70}) == pytest.approx({1: 1.0, 2: 0.0, 3: 0.5})
    assert normalise({7: 12.5}) == {7: 1.0}
    assert normalise({}) == {}


def test_query_without_lexical_evidence_is_ranked_by_meaning_alone() -> None:
    # An English question over Thai articles: none of its words occur in the index.
    terms = QueryTerms(terms=("who", "founded", "bangkok"), doc_freq={}, n_docs=1904)
    assert terms.coverage == 0.0
    dense = {1: 0.83, 2: 0.86, 3: 0.80}
    lexical = {3: 4.2}  # a stray match must not outrank the meaning
    assert [doc for doc, _ in hybrid_ranking(dense, lexical, terms)] == [2, 1, 3]


def test_query_whose_words_all_occur_gets_a_real_lexical_vote() -> None:
    terms = QueryTerms(terms=("กรุงเทพ", "ก่อตั้ง"), doc_freq={"กรุงเทพ": 40, "ก่อตั้ง": 25}, n_docs=1904)
    assert terms.coverage == pytest.approx(1.0)
    assert lexical_weight(terms.coverage) == MAX_LEXICAL_WEIGHT
    dense = {1: 0.86, 2: 0.85, 3: 0.70}
    lexical = {2: 18.0, 1: 3.0, 3: 2.0}
    # Doc 2 is nearly tied on meaning and clearly best on words: the hybrid puts it first.
    assert hybrid_ranking(dense, lexical, terms)[0][0] == 2


def test_fusion_keeps_documents_found_by_only_one_retriever() -> None:
    ranked = fuse({1: 0.9, 2: 0.5}, {3: 10.0, 2: 1.0}, weight=0.5)
    assert {doc for doc, _ in ranked} == {1, 2, 3}
    assert ranked == sorted(ranked, key=lambda kv: (-kv[1], kv[0]))


def test_bm25_keeps_its_vote_when_its_best_document_holds_the_query_words() -> None:
    """Language disagreement silences BM25 unless its best document holds (nearly) every query word."""
    from thaigov_search.search.fusion import lexical_evidence

    assert lexical_evidence(1.0, agreement=0.1, top_match=0.3) == 0.1  # paraphrase: agreement rules
    assert lexical_evidence(1.0, agreement=0.1, top_match=1.0) == 1.0  # every word: a full vote
    assert 0.1 < lexical_evidence(1.0, agreement=0.1, top_match=0.8) < 1.0
    assert lexical_evidence(0.5, agreement=1.0, top_match=0.0) == 0.5  # one language: coverage as before


def test_share_held_weighs_query_words_by_idf() -> None:
    from thaigov_search.search.lexical.terms import QueryTerms

    terms = QueryTerms(("cabinet", "rice", "2018"), {"cabinet": 900, "rice": 40, "2018": 300}, 1000)
    assert terms.share_held({"cabinet", "rice", "2018"}) == 1.0
    assert terms.share_held(set()) == 0.0
    # the rare word carries more of the query than the common one
    assert terms.share_held({"rice"}) > terms.share_held({"cabinet"})


def test_a_lead_only_index_gives_bm25_a_slightly_larger_share() -> None:
    """With only the lead passage embedded the dense side sees the start of each article, BM25 all of it
    (Thai Wikipedia, lead index: hybrid 0.9427 < BM25 0.9443 nDCG@10 at 0.5, 0.9455 at 0.55)."""
    from thaigov_search.search.fusion import LEAD_MAX_LEXICAL_WEIGHT, max_lexical_weight

    assert max_lexical_weight(1.0) == LEAD_MAX_LEXICAL_WEIGHT == 0.55
    assert max_lexical_weight(5.4) == MAX_LEXICAL_WEIGHT == 0.5
    dense, lexical = {1: 0.90, 2: 0.80}, {1: 0.0, 2: 10.0}
    terms = type("T", (), {"coverage": 1.0})()
    # a tie at 0.5 (0.5 x 1 vs 0.5 x 1) goes to BM25's document at 0.55
    assert hybrid_ranking(dense, lexical, terms)[0][0] == 1
    assert hybrid_ranking(dense, lexical, terms, max_weight=0.55)[0][0] == 2
