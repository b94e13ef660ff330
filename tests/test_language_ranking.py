"""Issue #11 ranking: dense calibration across document languages, the lexical weight's language
agreement, the language filter and the suggested date filter, on the real sample index."""

from __future__ import annotations

import numpy as np
import pytest

from thaigov_search.core.filters import Filters
from thaigov_search.search import calibration
from thaigov_search.search.calibration import calibrate
from thaigov_search.search.fusion import hybrid_ranking, language_agreement
from thaigov_search.search.lexical.terms import QueryTerms
from thaigov_search.search.searcher import Searcher


def test_language_agreement():
    assert language_agreement(["th"] * 10, ["th"] * 10) == 1.0  # one-language index: weight unchanged
    assert language_agreement(["th"] * 10, ["en"] * 10) == 0.0  # BM25 can only point elsewhere
    assert language_agreement(["th"] * 9 + ["en"], ["en"] * 9 + ["th"]) == pytest.approx(0.9 * 0.1 + 0.1 * 0.9)
    assert language_agreement([], ["th"]) == 0.0


def test_calibrate_centres_each_language():
    scores = {1: 0.90, 2: 0.85, 3: 0.80, 4: 0.78}
    langs = {1: "en", 2: "en", 3: "th", 4: "th"}
    centred = calibrate(scores, langs, {"en": 0.85, "th": 0.70})
    assert centred == pytest.approx({1: 0.05, 2: 0.0, 3: 0.10, 4: 0.08})  # the Thai documents now lead
    assert calibrate(scores, langs, {}) == scores


def test_offsets_are_the_exact_mean_similarity():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(500, 8))
    q = rng.normal(size=8)
    stats = calibration.LanguageStats(0, {"th": np.arange(500)}, {"th": vectors.mean(axis=0)}, {"th": 500})
    assert stats.offsets(q)["th"] == pytest.approx((vectors @ q).mean())


def test_date_weight_is_a_soft_preference():
    terms = QueryTerms(("ข้าว",), {"ข้าว": 3}, 10)
    dense, lexical = {1: 0.9, 2: 0.8, 3: 0.1}, {}
    plain = hybrid_ranking(dense, lexical, terms)
    preferred = hybrid_ranking(dense, lexical, terms, dates={2: 1.0}, date_weight=0.2)
    assert [k for k, _ in plain] == [1, 2, 3]
    # fused = 0.5 x normalised dense: 1 -> 0.5, 2 -> 0.4375 (+ 0.2 for the named year), 3 -> 0
    assert [k for k, _ in preferred] == [2, 1, 3]  # preferred, and nothing dropped for its date


def test_language_filter_and_suggested_period(sample_index, settings, embedder):
    searcher = Searcher(sample_index, settings, embedder=embedder)
    english = searcher.search("prime minister", k=20, filters=Filters(language="en"))
    assert english.results and all(searcher.get(r.id).language == "en" for r in english.results)
    thai = searcher.search("prime minister", k=20, filters=Filters(language="th"))
    assert thai.results and all(searcher.get(r.id).language == "th" for r in thai.results)
    response = searcher.search("ครม. รับทราบ ปี 2561", k=5)
    assert response.suggested_filter == {"date_from": "2018-01-01", "date_to": "2018-12-31"}
    assert searcher.search("ครม. รับทราบ", k=5).suggested_filter is None


def test_calibration_keeps_each_languages_order_and_mixes_languages(sample_index, settings, embedder, monkeypatch):
    """The sample holds only 8 English releases: lower the minimum so both languages are calibrated."""
    monkeypatch.setattr(calibration, "MIN_PASSAGES", 3)
    query = "prime minister congratulates Thai athletes"
    every = settings.model_copy(update={"dense_margin": 2.0})  # the whole candidate list, not the result set (issue #14)
    raw = Searcher(sample_index, every.model_copy(update={"dense_calibration": False}), embedder=embedder)
    cal = Searcher(sample_index, every, embedder=embedder)
    raw_ids = [r.id for r in raw.search(query, k=100, mode="dense").results]
    cal_ids = [r.id for r in cal.search(query, k=100, mode="dense").results]
    assert sorted(raw_ids) == sorted(cal_ids)  # same candidates (a small index: every article)
    for lang in ("th", "en"):
        in_lang = {r for r in raw_ids if raw.get(r).language == lang}
        assert [r for r in cal_ids if r in in_lang] == [r for r in raw_ids if r in in_lang]
    raw_en = sum(raw.get(r).language == "en" for r in raw_ids[:10])
    cal_en = sum(cal.get(r).language == "en" for r in cal_ids[:10])
    assert cal_en < raw_en  # the English query no longer sees mostly English releases
