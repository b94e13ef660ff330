"""Searching like a news archive (issue #14): near-duplicates, result set and facets, date order,
recency, suggestions and "did you mean", over a real index of real releases served by a real server.

The fixture ``thaigov-archive.jsonl`` holds 16 releases cut from the shared corpus: three pairs
published twice (same text under two sections) and ten on debt (หนี้), eight of them on informal
debt (หนี้นอกระบบ), from 2017 to 2023.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.test_api import client_for
from thaigov_search.api.app import create_app
from thaigov_search.cli.main import main
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher

ARCHIVE = FIXTURES / "thaigov-archive.jsonl"
PAIRS = [("tg027229", "tg027465"), ("tg002114", "tg002115"), ("tg023976", "tg024042")]
INFORMAL_DEBT = {"tg000139", "tg005855", "tg007995", "tg010401", "tg017237", "tg021565", "tg031509", "tg067781"}


@pytest.fixture(scope="module")
def archive_index(tmp_path_factory: pytest.TempPathFactory, lead_settings: Settings, embedder) -> Path:
    from thaigov_search.indexing.run import run_index

    index_dir = tmp_path_factory.mktemp("archive-index")
    report = run_index([ARCHIVE], index_dir, lead_settings, progress=False, embedder=embedder)
    assert report.indexed == 16
    return index_dir


@pytest.fixture(scope="module")
def archive(archive_index: Path, lead_settings: Settings, embedder) -> Iterator[httpx.Client]:
    searcher = Searcher(archive_index, lead_settings, embedder=embedder)
    with client_for(create_app(archive_index, lead_settings, searcher)) as client:
        yield client


def search(client: httpx.Client, **params) -> dict:
    response = client.get("/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


# ------------------------------------------------------------------------------ duplicates
def test_versions_of_a_release_are_found_at_index_time_and_listed_on_the_document(archive: httpx.Client) -> None:
    for a, b in PAIRS:
        assert archive.get(f"/documents/{a}").json()["duplicates"] == [b]
        assert archive.get(f"/documents/{b}").json()["duplicates"] == [a]
    # related releases on one subject are not versions of each other
    assert archive.get("/documents/tg010401").json()["duplicates"] == []


def test_results_fold_versions_into_one_by_default_and_show_both_without_collapse(archive: httpx.Client) -> None:
    query = "พม. ปรับกิจกรรมงานวันผู้สูงอายุแห่งชาติและวันแห่งครอบครัว"
    default, folded = search(archive, q=query, k=20), search(archive, q=query, k=20, collapse="true")
    assert (default["results"], default["total"]) == (folded["results"], folded["total"])
    ids = [r["id"] for r in folded["results"]]
    assert len({"tg027229", "tg027465"} & set(ids)) == 1
    first = next(r for r in folded["results"] if r["id"] in {"tg027229", "tg027465"})
    assert first["duplicates"] == 1
    both = search(archive, q=query, k=20, collapse="false")
    assert {"tg027229", "tg027465"} <= {r["id"] for r in both["results"]}
    assert all(r["duplicates"] == 0 for r in both["results"])
    assert both["total"] == folded["total"] + 1


def test_deleting_and_re_adding_a_version_keeps_the_groups_right(archive_index: Path, tmp_path: Path,
                                                               lead_settings: Settings, embedder) -> None:
    from thaigov_search.indexing.run import run_index

    index_dir = tmp_path / "index"
    shutil.copytree(archive_index, index_dir)
    searcher = Searcher(index_dir, lead_settings, embedder=embedder)
    run_index([], index_dir, lead_settings, delete_ids=["tg027465"], progress=False, embedder=embedder)
    assert searcher.duplicates_of("tg027229") == []
    run_index([ARCHIVE], index_dir, lead_settings, progress=False, embedder=embedder)  # puts tg027465 back
    assert searcher.duplicates_of("tg027229") == ["tg027465"]


def test_an_index_from_before_the_duplicate_tables_gets_them_on_the_next_index_run(
        archive_index: Path, tmp_path: Path, lead_settings: Settings, embedder) -> None:
    from thaigov_search.indexing.run import run_index

    index_dir = tmp_path / "old-index"
    shutil.copytree(archive_index, index_dir)
    with sqlite3.connect(index_dir / "index.sqlite") as conn:  # the layout before issue #14
        conn.executescript("DROP TABLE duplicates; DROP TABLE minhash_bands; DROP TABLE minhash;")
    searcher = Searcher(index_dir, lead_settings, embedder=embedder)
    assert searcher.duplicates_of("tg002114") == []  # readable as it is: no duplicates known
    assert searcher.search("Carcel Garment Production", k=5).total >= 1
    report = run_index([ARCHIVE], index_dir, lead_settings, progress=False, embedder=embedder)
    assert report.indexed == 0  # nothing re-embedded: the signatures come from the stored terms
    assert searcher.duplicates_of("tg002114") == ["tg002115"]


# ------------------------------------------------------------------------ result set, facets
def test_total_counts_the_result_set_not_every_article_in_the_index(archive: httpx.Client) -> None:
    found = search(archive, q="หนี้นอกระบบ", k=20, facets="category,year")
    ids = {r["id"] for r in found["results"]}
    assert found["total"] == len(found["results"]) < 16
    assert INFORMAL_DEBT <= ids
    assert not {"tg027229", "tg027465", "tg023976"} & ids  # elderly-day and cabinet releases do not match


def test_facets_count_the_whole_result_set_not_only_the_page(archive: httpx.Client) -> None:
    page = search(archive, q="หนี้นอกระบบ", k=2, facets="category,year,month")
    assert len(page["results"]) == 2
    assert sum(f["count"] for f in page["facets"]["category"]) == page["total"] > 2
    assert sum(f["count"] for f in page["facets"]["year"]) == page["total"]  # every release here is dated
    years = [f["value"] for f in page["facets"]["year"]]
    assert years == sorted(years) and {"2017", "2018", "2023"} <= set(years)
    counts = [f["count"] for f in page["facets"]["category"]]
    assert counts == sorted(counts, reverse=True)
    assert set(search(archive, q="หนี้นอกระบบ", facets="year")["facets"]) == {"year"}  # only those asked for


@pytest.mark.parametrize("query", ["หนี้นอกระบบ", "รัฐบาล", "ช่วยเหลือเกษตรกร"])
def test_a_facet_count_is_what_its_filter_gives(archive: httpx.Client, query: str) -> None:
    """Filtering by a facet value gives exactly the releases its count promised: the result set is measured
    against the best match in the whole index, not the best inside the filter (which let weaker matches
    into a narrow category: 2 results behind a count of 1)."""
    for collapse in ("false", "true"):
        found = search(archive, q=query, facets="category,year", collapse=collapse)
        assert found["facets"]["category"], query
        for facet in found["facets"]["category"]:
            if facet["value"]:
                narrowed = search(archive, q=query, category=facet["value"], collapse=collapse)
                assert narrowed["total"] == facet["count"], (query, facet, collapse)
        for facet in found["facets"]["year"]:
            narrowed = search(archive, q=query, date_from=f"{facet['value']}-01-01", date_to=f"{facet['value']}-12-31",
                              collapse=collapse)
            assert narrowed["total"] == facet["count"], (query, facet)


def test_month_facet_inside_a_year_filter(archive: httpx.Client) -> None:
    found = search(archive, q="หนี้นอกระบบ", facets="month", date_from="2018-01-01", date_to="2018-12-31")
    assert found["facets"]["month"] == [{"value": "2018-03", "count": 1}, {"value": "2018-07", "count": 1}]


def test_date_orders_sort_the_whole_result_set(archive: httpx.Client) -> None:
    relevance = search(archive, q="หนี้นอกระบบ", k=20)
    newest = search(archive, q="หนี้นอกระบบ", k=20, sort="date_desc")
    oldest = search(archive, q="หนี้นอกระบบ", k=20, sort="date_asc")
    dates = [r["date"] for r in newest["results"]]
    assert dates == sorted(dates, reverse=True) and dates[0] == "2023-12-01"
    assert [r["date"] for r in oldest["results"]] == sorted(dates)
    assert {r["id"] for r in newest["results"]} == {r["id"] for r in relevance["results"]}
    assert newest["total"] == relevance["total"]


def test_recency_moves_newer_matches_up_but_an_old_only_match_still_shows(archive: httpx.Client) -> None:
    plain = [r["id"] for r in search(archive, q="หนี้นอกระบบ", k=20, recency=0)["results"]]
    recent = [r["id"] for r in search(archive, q="หนี้นอกระบบ", k=20, recency=365)["results"]]
    assert recent.index("tg067781") < plain.index("tg067781")  # the 2023 release rises
    assert set(recent) == set(plain)  # recency re-orders, never removes
    only = search(archive, q="Carcel Garment Production", recency=30)  # a 2017 release, six years older
    assert only["results"][0]["id"] in {"tg002114", "tg002115"}


# ----------------------------------------------------------------- suggestions, did you mean
def test_suggest_completes_a_thai_word_typed_halfway(archive: httpx.Client) -> None:
    answer = archive.get("/suggest", params={"q": "หนี้นอกระ"}).json()
    assert answer["query"] == "หนี้นอกระ"
    assert "หนี้นอกระบบ" in [s["text"] for s in answer["suggestions"]]
    assert "ยุติธรรม" in [s["text"] for s in archive.get("/suggest", params={"q": "ยุติธ"}).json()["suggestions"]]


def test_suggest_handles_latin_case_digits_and_buddhist_years(archive: httpx.Client) -> None:
    texts = [s["text"] for s in archive.get("/suggest", params={"q": "mo", "k": 20}).json()["suggestions"]]
    assert "MOU" in texts  # shown as the title writes it
    years = [s["text"] for s in archive.get("/suggest", params={"q": "256", "k": 20}).json()["suggestions"]]
    assert years and all(t.startswith("256") for t in years)
    assert len(archive.get("/suggest", params={"q": "ห", "k": 3}).json()["suggestions"]) == 3


def test_did_you_mean_corrects_a_misspelled_word_from_the_index_vocabulary(archive: httpx.Client) -> None:
    assert search(archive, q="ประชาชล")["did_you_mean"] == "ประชาชน"  # a wrong letter
    assert search(archive, q="แก้ไขปัญหาหนี")["did_you_mean"] == "แก้ไขปัญหาหนี้"  # a missing tone mark
    for good in ("ประชาชน", "หนี้นอกระบบ", "Carcel Garment Production"):  # queries with good matches are left alone
        assert search(archive, q=good)["did_you_mean"] is None


def test_did_you_mean_turns_a_thai_word_typed_in_latin_letters_into_the_index_word(archive: httpx.Client) -> None:
    """Issue #14: an English transliteration that matches nothing gets the Thai word it spells."""
    assert search(archive, q="prachachon")["did_you_mean"] == "ประชาชน"
    assert search(archive, q="Nuai Ngan")["did_you_mean"] == "หน่วยงาน"  # words joined, case ignored
    assert search(archive, q="prachachon หน่วยงาน")["did_you_mean"] == "ประชาชน หน่วยงาน"  # Thai kept
    # English words the index holds are left alone: no suggestion, whatever the query finds
    for english in ("Carcel Garment Production", "thaigov news", "Bangkok prison"):
        assert search(archive, q=english)["did_you_mean"] is None


# ---------------------------------------------------------------------- validation, schema
@pytest.mark.parametrize(("path", "params", "reason"), [
    ("/search", {"q": "หนี้", "sort": "newest"}, "sort"),
    ("/search", {"q": "หนี้", "recency": "-1"}, "recency"),
    ("/search", {"q": "หนี้", "recency": "100000"}, "recency"),
    ("/search", {"q": "หนี้", "facets": "category,author"}, "author"),
    ("/search", {"q": "หนี้", "collapse": "maybe"}, "collapse"),
    ("/suggest", {"q": "หนี้", "k": "0"}, "k"),
    ("/suggest", {"q": "หนี้", "k": "21"}, "k"),
    ("/suggest", {"q": "   "}, "empty"),
    ("/suggest", {}, "q"),
])
def test_bad_values_get_a_422_with_the_reason(archive: httpx.Client, path: str, params: dict, reason: str) -> None:
    response = archive.get(path, params=params)
    assert response.status_code == 422
    assert reason in response.json()["detail"]


def test_openapi_describes_every_new_parameter_with_its_limits(archive: httpx.Client) -> None:
    spec = archive.get("/openapi.json").json()
    search_params = {p["name"]: p for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert {"sort", "recency", "facets", "collapse"} <= set(search_params)
    assert search_params["sort"]["schema"]["enum"] == ["relevance", "date_desc", "date_asc"]
    recency = next(s for s in search_params["recency"]["schema"]["anyOf"] if s.get("type") == "number")
    assert recency["minimum"] == 0 and recency["maximum"] == 36500
    suggest_params = {p["name"]: p for p in spec["paths"]["/suggest"]["get"]["parameters"]}
    assert suggest_params["k"]["schema"]["maximum"] == 20 and suggest_params["q"]["schema"]["maxLength"] == 200


def test_cli_search_takes_the_same_options_and_prints_the_same_fields(archive_index: Path, capsys) -> None:
    assert main(["search", "--index-dir", str(archive_index), "--json", "--k", "3", "--sort", "date_desc",
                 "--facets", "year,category", "--recency", "0", "หนี้นอกระบบ"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"facets", "did_you_mean"} <= set(out) and set(out["facets"]) == {"year", "category"}
    assert "duplicates" in out["results"][0]
    assert [r["date"] for r in out["results"]] == sorted((r["date"] for r in out["results"]), reverse=True)
    query = "พม. ปรับกิจกรรมงานวันผู้สูงอายุแห่งชาติ"
    assert main(["search", "--index-dir", str(archive_index), "--json", "--no-collapse", "--k", "20", query]) == 0
    ids = [r["id"] for r in json.loads(capsys.readouterr().out)["results"]]
    assert {"tg027229", "tg027465"} <= set(ids)
    assert main(["search", "--index-dir", str(archive_index), "--json", "--k", "20", query]) == 0
    ids = [r["id"] for r in json.loads(capsys.readouterr().out)["results"]]
    assert len({"tg027229", "tg027465"} & set(ids)) == 1
    assert main(["suggest", "--index-dir", str(archive_index), "--json", "หนี้นอกระ"]) == 0
    assert "หนี้นอกระบบ" in [s["text"] for s in json.loads(capsys.readouterr().out)["suggestions"]]
