"""English <-> Thai twin linking on real releases (fixtures cut from the shared corpus)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TWINS_SAMPLE
from tests.test_web_page import CHROMIUM, browser, page_at, search  # noqa: F401 - browser is a fixture
from thaigov_search.indexing.adapt_pairs import load_articles
from thaigov_search.indexing.twins import evidence, find_twins, is_list_release


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


# ------------------------------------------------------------- linked at index time, used in search
COVID_PRISONS = ("tg036061", "tg036475")  # English, Thai: 150.69 million baht of COVID-19 supplies for prisons
IMT_GT = ("tg035917", "tg037983")


@pytest.fixture(scope="module")
def twins_api(twins_index: Path, lead_settings, embedder):
    from tests.test_api import client_for
    from thaigov_search.api.app import create_app
    from thaigov_search.search.searcher import Searcher

    searcher = Searcher(twins_index, lead_settings, embedder=embedder)
    with client_for(create_app(twins_index, lead_settings, searcher)) as client:
        yield client


def test_the_index_links_twins_and_each_document_names_its_other_language(twins_api) -> None:
    for own, other, language in [(*COVID_PRISONS, "th"), (COVID_PRISONS[1], COVID_PRISONS[0], "en"),
                                 (*IMT_GT, "th")]:
        doc = twins_api.get(f"/documents/{own}").json()
        assert doc["twin"]["id"] == other and doc["twin"]["language"] == language
        assert doc["twin"]["url"].startswith("http")
    assert twins_api.get("/documents/tg046791").json()["twin"] is None  # an ESG award: no English version


def test_an_english_query_that_finds_the_english_release_lifts_its_thai_twin(twins_index: Path, lead_settings,
                                                                             embedder) -> None:
    from thaigov_search.search.searcher import Searcher

    query = "Cabinet approves 150.69 million Baht to procure COVID-19 supplies for correctional facilities"
    ranked = {}
    for lift in (0.0, 0.9):
        searcher = Searcher(twins_index, lead_settings.model_copy(update={"twin_lift": lift}), embedder=embedder)
        results = searcher.search(query, k=10).results
        ranked[lift] = {r.id: r.score for r in results}
        assert results[0].id == COVID_PRISONS[0]
        assert results[0].twin is not None and results[0].twin.id == COVID_PRISONS[1]
    english, thai = COVID_PRISONS
    # Without the lift the Thai version trails its English twin by more than the lift allows ...
    assert ranked[0.0].get(thai, 0.0) < 0.9 * ranked[0.0][english]
    # ... with it, it scores 0.9 of its twin and comes right after it.
    assert ranked[0.9][thai] == pytest.approx(0.9 * ranked[0.9][english], abs=1e-5)
    assert list(ranked[0.9])[1] == thai


def test_a_language_filter_keeps_the_lifted_twin_out(twins_api) -> None:
    query = "Cabinet approves 150.69 million Baht to procure COVID-19 supplies for correctional facilities"
    body = twins_api.get("/search", params={"q": query, "language": "en"}).json()
    assert body["results"] and {r["id"] for r in body["results"]} <= {"tg003059", COVID_PRISONS[0], IMT_GT[0]}


def test_twins_follow_incremental_writes_and_deletes(tmp_path: Path, lead_settings, embedder) -> None:
    from thaigov_search.indexing.run import run_index
    from thaigov_search.search.searcher import Searcher

    lines = TWINS_SAMPLE.read_text(encoding="utf-8").splitlines()
    without_thai = tmp_path / "without-thai.jsonl"
    without_thai.write_text("\n".join(x for x in lines if COVID_PRISONS[1] not in x[:40]) + "\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    run_index([without_thai], index_dir, lead_settings, progress=False, embedder=embedder)
    searcher = Searcher(index_dir, lead_settings, embedder=embedder)
    assert searcher.twin_of(COVID_PRISONS[0]) is None
    assert searcher.twin_of(IMT_GT[0]).id == IMT_GT[1]
    run_index([TWINS_SAMPLE], index_dir, lead_settings, progress=False, embedder=embedder)  # the Thai one arrives
    assert searcher.twin_of(COVID_PRISONS[0]).id == COVID_PRISONS[1]
    run_index([], index_dir, lead_settings, delete_ids=[COVID_PRISONS[1]], progress=False, embedder=embedder)
    assert searcher.twin_of(COVID_PRISONS[0]) is None
    assert searcher.twin_of(IMT_GT[0]).id == IMT_GT[1]


def test_an_index_from_before_twins_gets_them_on_the_next_index_run(twins_index: Path, tmp_path: Path,
                                                                   lead_settings, embedder) -> None:
    import shutil
    import sqlite3

    from thaigov_search.indexing.run import run_index
    from thaigov_search.search.searcher import Searcher

    index_dir = tmp_path / "old-index"
    shutil.copytree(twins_index, index_dir)
    with sqlite3.connect(index_dir / "index.sqlite") as conn:  # the layout before twins
        conn.executescript("DROP TABLE twins; DELETE FROM meta WHERE key = 'twins_generation';")
    searcher = Searcher(index_dir, lead_settings, embedder=embedder)
    assert searcher.twin_of(COVID_PRISONS[0]) is None  # readable as it is: no twins known
    assert searcher.search("COVID-19 supplies for prisons", k=3).results
    report = run_index([], index_dir, lead_settings, progress=False, embedder=embedder)
    assert report.indexed == 0
    assert searcher.twin_of(COVID_PRISONS[0]).id == COVID_PRISONS[1]


def test_a_model_without_a_checked_threshold_links_no_twins() -> None:
    from thaigov_search.indexing.twins import twin_threshold

    assert twin_threshold("default") == twin_threshold("thaigov-e5-small") == 0.82
    assert twin_threshold("e5-small") == 0.86
    assert twin_threshold("/models/some-other-model") is None


# ----------------------------------------------------------------------------- pure parts
def test_lift_gives_a_twin_a_share_of_its_partners_score_and_lets_a_missing_one_in() -> None:
    from thaigov_search.search.twins import both_ways, lift_twins

    twin_of = both_ways([(1, 2), (5, 6)])
    ranked = [(1, 1.0), (3, 0.8), (2, 0.2), (5, 0.5)]
    assert lift_twins(ranked, twin_of, 0.9) == [(1, 1.0), (2, 0.9), (3, 0.8), (5, 0.5), (6, 0.45)]
    assert lift_twins(ranked, twin_of, 0.0) == ranked
    # a filter that excludes 6 keeps it out; 2 was a candidate already (it passed the filter)
    assert [k for k, _ in lift_twins(ranked, twin_of, 0.9, allowed=lambda ids: set())] == [1, 2, 3, 5]


def test_periods_merge_the_windows_around_each_date() -> None:
    from datetime import date

    from thaigov_search.indexing.twins import periods

    days = [date(2021, 8, 30).toordinal(), date(2021, 8, 31).toordinal(), date(2021, 9, 20).toordinal()]
    assert periods(days, 3) == [("2021-08-27", "2021-09-03"), ("2021-09-17", "2021-09-23")]


# ------------------------------------------------------------------------------- on the page
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium: apt-get install -y chromium fonts-thai-tlwg")
def test_the_page_offers_the_other_language_version_of_a_result(twins_index: Path, lead_settings, embedder,
                                                                browser) -> None:  # noqa: F811
    from tests.test_api import running
    from thaigov_search.api.app import create_app
    from thaigov_search.search.searcher import Searcher

    app = create_app(twins_index, lead_settings, Searcher(twins_index, lead_settings, embedder=embedder))
    with running(app) as url, page_at(browser, url + "/") as page:
        search(page, "ครม. อนุมัติวงเงิน 150.69 ล้านบาท แก้ปัญหาโควิด-19 ในเรือนจำ")
        thai = page.locator(f'.result[data-id="{COVID_PRISONS[1]}"] a.twin')
        assert thai.inner_text() == "Read in English" and thai.get_attribute("lang") == "en"
        assert thai.get_attribute("data-twin") == COVID_PRISONS[0]
        assert thai.get_attribute("href").startswith("https://www.thaigov.go.th/")
        english = page.locator(f'.result[data-id="{COVID_PRISONS[0]}"] a.twin')
        assert english.inner_text() == "อ่านภาษาไทย" and english.get_attribute("data-twin") == COVID_PRISONS[1]
        assert page.locator(".result[data-id='tg046791'] .twin").count() == 0
