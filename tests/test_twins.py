"""English <-> Thai twin linking on real releases (fixtures cut from the shared corpus)."""

from __future__ import annotations

from pathlib import Path

import pytest

from thaigov_search.indexing.adapt_pairs import load_articles
from thaigov_search.indexing.twins import evidence, find_twins, is_list_release

TWINS_SAMPLE = Path(__file__).parent / "fixtures" / "twins-sample.jsonl"


def test_evidence_keeps_amounts_and_names_but_not_years_days_or_function_words():
    ev = evidence("Cabinet approves 150.69 million Baht on 22 February 2022 for COVID-19 supplies in 2,500 prisons")
    assert {"150.69", "2500", "covid-19", "cabinet"} <= ev
    assert not {"22", "2022", "for", "in"} & ev


def test_evidence_reads_thai_text_numbers_and_latin_acronyms():
    ev = evidence("ครม. อนุมัติวงเงิน 150.69 ล้านบาท ปี 2565 ร่วมกับ EXIM BANK")
    assert {"150.69", "exim", "bank"} <= ev
    assert "2565" not in ev  # a Buddhist-era year


def test_cabinet_synopses_and_schedules_are_list_releases():
    assert is_list_release("สรุปข่าวการประชุมคณะรัฐมนตรี 17 สิงหาคม 2559")
    assert is_list_release("The cabinet met on May 27, 2025")
    assert not is_list_release("Cabinet approves G-Token for Govt’s loan raising")


@pytest.fixture(scope="module")
def sample_articles():
    return load_articles([TWINS_SAMPLE], progress=False)


@pytest.fixture(scope="module")
def twin_embedder(settings):
    """The linker's threshold is calibrated on e5-small's cosines (twins.TWIN_MODEL), not the default's."""
    from thaigov_search.embedding.embedder import Embedder
    from thaigov_search.indexing.twins import TWIN_MODEL

    return Embedder(TWIN_MODEL, settings.home, backend=settings.backend)


def test_links_each_english_release_to_its_thai_report_of_the_same_event(sample_articles, twin_embedder):
    embedder = twin_embedder
    twins = find_twins(sample_articles, lambda texts: embedder.embed_passages(texts))
    pairs = {(t.en_id, t.th_id) for t in twins}
    # COVID-19 supplies for prisons (150.69 million baht), one day apart; IMT-GT cooperation, two days apart.
    assert ("tg036061", "tg036475") in pairs
    assert ("tg035917", "tg037983") in pairs
    # Same-week Thai releases about other things (APEC finance ministers, an ESG award) stay unlinked.
    linked_thai = {th for _, th in pairs}
    assert not {"tg046778", "tg046791", "tg041781"} & linked_thai
    for t in twins:
        assert t.days_apart <= 3 and t.shared


def test_english_labelled_release_with_a_thai_title_is_never_linked(sample_articles, embedder):
    # tg003059 has a Thai title and speech but enough Latin text for the parser to call it English.
    assert next(a for a in sample_articles if a.id == "tg003059").language == "en"
    twins = find_twins(sample_articles, lambda texts: embedder.embed_passages(texts))
    assert "tg003059" not in {t.en_id for t in twins}
