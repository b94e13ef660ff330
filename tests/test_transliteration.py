"""Thai words typed in Latin letters (issue #14's "did you mean"): the romanization matching in
``search/transliteration.py``, over real index words with their real article counts in the 10k-release
news index (``/work/cache/idx-10k-lead-0.5``, vocabulary of terms in >= 3 articles)."""

from __future__ import annotations

import pytest

from thaigov_search.search.spelling import FREQUENCY_RATIO
from thaigov_search.search.transliteration import Romanized, romanized_key, transliterate

VOCABULARY = {  # term -> articles, as in the 10k index
    "สงกรานต์": 170, "ขอนแก่น": 278, "เชียงใหม่": 476, "ธรรมศาสตร์": 13, "ดาราศาสตร์": 13,
    "ประยุทธ์": 1448, "ภูเก็ต": 289, "พัทยา": 105, "หาดใหญ่": 70, "อนุทิน": 294, "เป็นมิตร": 50,
    "ผู้หญิง": 213, "ไม่": 5250, "ไทย": 5786,
    "songkran": 14, "chiang": 25, "mai": 23, "khon": 11, "kaen": 5, "prayut": 75, "phuket": 47,
    "cabinet": 84, "permit": 19, "buying": 3, "thai": 801, "pattaya": 3,
}


@pytest.fixture(scope="module")
def romanized() -> Romanized:
    return Romanized(VOCABULARY)


def fix(query: str, romanized: Romanized) -> str:
    return " ".join(transliterate(query.split(), romanized, VOCABULARY, FREQUENCY_RATIO))


@pytest.mark.parametrize(("thai", "key"), [
    ("เชียงใหม่", "chiangmai"),  # by syllable: royin on the whole word says "chianghaim"
    ("หาดใหญ่", "hatyai"),  # a leading ห that royin drops
    ("อนุทิน", "anutin"),  # a leading อ that royin drops
    ("ประยุทธ์", "prayut"),
])
def test_thai_words_are_romanized_syllable_by_syllable_into_folded_keys(thai: str, key: str) -> None:
    assert romanized_key(thai) == key


@pytest.mark.parametrize(("query", "expected"), [
    ("songkran", "สงกรานต์"),
    ("Khon Kaen", "ขอนแก่น"),  # two words that spell one Thai word
    ("chiang mai", "เชียงใหม่"),
    ("Prayuth", "ประยุทธ์"),  # aspiration folded: th = t
    ("thammasat", "ธรรมศาสตร์"),  # the linking "a" Thai does not write; not ดาราศาสตร์ (as common)
    ("Pattaya", "พัทยา"),
    ("hat yai", "หาดใหญ่"),
    ("anutin", "อนุทิน"),
    ("songkran chiang mai 2567", "สงกรานต์ เชียงใหม่ 2567"),
])
def test_a_transliteration_becomes_the_commoner_thai_index_word(romanized: Romanized, query: str,
                                                                  expected: str) -> None:
    assert fix(query, romanized) == expected


@pytest.mark.parametrize("query", [
    "phuket",  # in 47 articles: ภูเก็ต (289) is not FREQUENCY_RATIO times commoner
    "cabinet",  # an English word the index holds, no Thai romanization
    "permit",  # one edit from เป็นมิตร: under 8 letters only exact keys match
    "buying",  # one edit from ผู้หญิง
    "thai",  # short keys (tai) are never matched: ไทย is not offered for the English word
    "mai",
])
def test_english_words_and_common_latin_words_are_left_alone(romanized: Romanized, query: str) -> None:
    assert fix(query, romanized) == query
