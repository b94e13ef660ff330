"""Issue #14 "search like a news archive" on the page and the widget, in a real browser (Debian chromium via
Playwright) against a real server over a real index: suggestions while typing, facets, the year/month
histogram, sorting by date, collapsed duplicates, "did you mean", Thai and ISO date fields.

The index is the sample releases plus three releases thaigov.go.th published twice (two sections, two
URLs, the same text: tests/fixtures/thaigov-duplicates.jsonl, cut from the 10k corpus)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.test_api import running
from tests.test_web_page import (  # noqa: F401 - fixtures
    CHROMIUM,
    THAI_DATE,
    browser,
    page_at,
    portal,
    result_ids,
    screenshot,
    search,
    url_params,
    wait_for_answer,
)
from thaigov_search.api.app import create_app
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium: apt-get install -y chromium fonts-thai-tlwg"),
]

DUPLICATES = FIXTURES / "thaigov-duplicates.jsonl"
# (kept, its copy): the Prime Minister on the cabinet and 14 days without local COVID-19 cases, 9 June 2020,
# filed under "ข่าวทันสถานการณ์โควิด-19" and again under "ข่าวทำเนียบรัฐบาล".
CABINET_PAIR = ("tg023976", "tg024042")
CABINET_QUERY = "นายกฯ ยืนยันยังไม่ปรับคณะรัฐมนตรี"


@pytest.fixture(scope="module")
def archive_index(sample_index: Path, settings: Settings, embedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample index plus the releases published twice (indexed incrementally into a copy)."""
    from thaigov_search.indexing.run import run_index

    index_dir = tmp_path_factory.mktemp("archive") / "index"
    shutil.copytree(sample_index, index_dir)
    report = run_index([DUPLICATES], index_dir, settings, progress=False, embedder=embedder)
    assert report.indexed == 6
    return index_dir


@pytest.fixture(scope="module")
def base_url(archive_index: Path, settings: Settings, embedder, portal: ThreadingHTTPServer) -> Iterator[str]:  # noqa: F811
    origin = f"http://127.0.0.1:{portal.server_port}"
    app_settings = settings.model_copy(update={"cors_origins": [origin], "api_key": None})
    with running(create_app(archive_index, app_settings, Searcher(archive_index, app_settings, embedder=embedder))) as url:
        portal.html = (  # type: ignore[attr-defined]
            '<!doctype html><html lang="th"><meta charset="utf-8"><title>Portal</title><h1>Portal</h1>'
            f'<div id="thaigov-search"></div><script src="{url}/widget.js" data-target="#thaigov-search" data-k="3"></script>')
        yield url


@pytest.fixture()
def page(browser, base_url: str):  # noqa: F811
    with page_at(browser, base_url + "/") as page:
        yield page


def result_dates(page) -> list[str | None]:
    return page.eval_on_selector_all(
        ".result", "items => items.map(i => { const t = i.querySelector('.meta time'); return t ? t.getAttribute('datetime') : null; })")


def facet_links(page, name: str) -> list[dict]:
    return page.eval_on_selector_all(
        f'#facets a[data-facet="{name}"]',
        "links => links.map(a => ({value: a.dataset.value, count: Number(a.querySelector('.count').textContent.replace(/,/g, '')),"
        " current: a.getAttribute('aria-current') === 'true', label: a.querySelector('.facet-label').textContent}))")


def total(page) -> int:
    match = re.search(r"\((\d+) results", page.inner_text("#status"))
    assert match, page.inner_text("#status")
    return int(match.group(1))


def options(page, root: str = "") -> list[str]:
    return page.eval_on_selector_all(f'{root} [role="listbox"] [role="option"]', "os => os.map(o => o.textContent)")


# ---- suggestions ------------------------------------------------------------------------------------

def test_typing_half_a_thai_word_offers_suggestions_and_choosing_one_searches(page) -> None:
    page.click("#q")
    page.keyboard.type("ดิจิ")  # half of ดิจิทัล (digital)
    page.wait_for_selector('#q[aria-expanded="true"]')
    texts = options(page)
    assert texts and all("ดิจิ" in t for t in texts), texts
    listbox = page.get_attribute("#q", "aria-controls")
    assert page.get_attribute("#q", "role") == "combobox" and page.get_attribute("#q", "aria-autocomplete") == "list"
    assert page.locator(f"#{listbox}").get_attribute("role") == "listbox"
    screenshot(page, "screenshot-suggestions.png", clip={"x": 0, "y": 0, "width": 1200, "height": 520})

    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    active = page.get_attribute("#q", "aria-activedescendant")
    if len(texts) > 1:
        assert active == page.eval_on_selector_all('[role="option"]', "os => os[1].id")
        page.keyboard.press("ArrowUp")
        active = page.get_attribute("#q", "aria-activedescendant")
    assert page.get_attribute(f"#{active}", "aria-selected") == "true"
    chosen = page.inner_text(f"#{active}")
    assert page.evaluate("document.activeElement.id") == "q"  # focus stays in the box
    page.keyboard.press("Enter")
    wait_for_answer(page)
    assert url_params(page)["q"] == [chosen]
    assert page.input_value("#q") == chosen and page.get_attribute("#q", "aria-expanded") == "false"
    assert page.locator(".result").count() > 0 and page.is_hidden(f"#{listbox}")


def test_escape_closes_the_suggestions_and_a_click_chooses_one(page) -> None:
    page.click("#q")
    page.keyboard.type("รัฐ")
    page.wait_for_selector('#q[aria-expanded="true"]')
    page.keyboard.press("Escape")
    assert page.get_attribute("#q", "aria-expanded") == "false"
    assert page.input_value("#q") == "รัฐ" and page.locator('[role="option"]').count() == 0
    assert page.locator(".result").count() == 0  # nothing was searched
    page.keyboard.press("ArrowDown")  # opens the list again
    page.wait_for_selector('#q[aria-expanded="true"]')
    first = page.locator('[role="option"]').first
    chosen = first.inner_text()
    first.click()
    wait_for_answer(page)
    assert url_params(page)["q"] == [chosen]


def test_enter_without_a_highlighted_suggestion_searches_what_was_typed(page) -> None:
    page.click("#q")
    page.keyboard.type("การประชุมรัฐบาลดิจิทัล")
    page.keyboard.press("Enter")
    wait_for_answer(page)
    assert url_params(page)["q"] == ["การประชุมรัฐบาลดิจิทัล"]


def test_the_widget_offers_suggestions_too(page, portal: ThreadingHTTPServer) -> None:  # noqa: F811
    page.goto(f"http://127.0.0.1:{portal.server_port}/")  # another origin, allowed by CORS
    box = page.locator("#thaigov-search input")
    page.wait_for_function("() => typeof window.thaigovSuggest === 'function'")
    box.click()
    page.keyboard.type("ดิจิ")
    page.wait_for_selector('#thaigov-search input[aria-expanded="true"]')
    texts = options(page, "#thaigov-search")
    assert texts and all("ดิจิ" in t for t in texts), texts
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("#thaigov-search li:not([role])")
    assert box.input_value() == texts[0]
    assert box.get_attribute("aria-expanded") == "false"
    assert page.locator("#thaigov-search ol li").count() > 0


# ---- facets and the histogram ----------------------------------------------------------------------

def test_a_category_facet_click_filters_the_results(page, base_url: str) -> None:
    search(page, "รัฐบาล")
    before = total(page)
    categories = facet_links(page, "category")
    assert categories and all(c["count"] > 0 for c in categories) and not any(c["current"] for c in categories)
    answer = page.request.get(f"{base_url}/search", params={"q": "รัฐบาล", "facets": "category", "collapse": "true"}).json()
    # folded groups whose versions sit in two categories count in both (each count is what its click gives)
    assert sum(f["count"] for f in answer["facets"]["category"]) >= answer["total"] == before
    # every category is listed but "no category" (not a filter one can choose)
    assert [c["value"] for c in categories] == [f["value"] for f in answer["facets"]["category"] if f["value"]]
    assert len(categories) > 10  # "รัฐบาล" finds releases from more sections than a facet list shows at first
    assert page.locator('#facets a[data-facet="category"]:visible').count() == 10
    more = page.locator(".facet-category .facet-more")
    assert more.get_attribute("aria-expanded") == "false" and f"show all {len(categories)}" in more.inner_text()
    more.click()
    assert page.locator('#facets a[data-facet="category"]:visible').count() == len(categories)
    assert more.get_attribute("aria-expanded") == "true"
    target = min(categories, key=lambda c: c["count"])  # the narrowest: visibly fewer results
    page.click(f'#facets a[data-facet="category"][data-value="{target["value"]}"]')
    wait_for_answer(page)
    assert url_params(page)["category"] == [target["value"]]
    assert total(page) == target["count"]  # the count said how many releases the click would give
    assert set(page.locator(".result .category").all_inner_texts()) == {target["value"]}
    assert page.input_value("#category") == target["value"]
    chosen = [c for c in facet_links(page, "category") if c["current"]]
    assert [c["value"] for c in chosen] == [target["value"]]
    page.focus('#facets a[data-facet="category"][aria-current="true"]')  # choosing it again removes the filter
    page.keyboard.press("Enter")
    wait_for_answer(page)
    assert "category" not in url_params(page) and total(page) == before


def test_the_histogram_shows_the_years_of_the_results(page) -> None:
    search(page, "รัฐบาล")
    bars = page.eval_on_selector_all("#histogram [data-year]", "bs => bs.map(b => [b.dataset.year, Number(b.dataset.count)])")
    assert bars, "no histogram"
    counted = {year for year, count in bars if count > 0}
    assert {d[:4] for d in result_dates(page) if d} <= counted  # every year on the page has its bar
    years = {f["value"]: f["count"] for f in facet_links(page, "year")}
    assert {year: count for year, count in bars if count} == years  # the bars are the year facet, drawn
    assert [year for year, _ in bars] == sorted(year for year, _ in bars)
    assert page.get_attribute("#histogram svg", "aria-labelledby") == "histogram-caption"
    first = next(year for year, count in bars if count)
    name = page.get_attribute(f'#histogram [data-year="{first}"]', "aria-label")
    assert str(int(first) + 543) in name and f"({first})" in name
    screenshot(page, "screenshot-archive.png")

    busiest = max(years, key=years.get)
    assert page.eval_on_selector(f'#histogram a[data-year="{busiest}"]', "a => a.tabIndex") == 0  # in the Tab order
    page.focus(f'#histogram a[data-year="{busiest}"]')  # a bar is a link to that year, reachable by keyboard
    page.keyboard.press("Enter")
    wait_for_answer(page)
    assert url_params(page)["date_from"] == [f"{busiest}-01-01"] and url_params(page)["date_to"] == [f"{busiest}-12-31"]
    assert total(page) == years[busiest]
    months = page.eval_on_selector_all("#histogram [data-month]", "bs => bs.map(b => [b.dataset.month, Number(b.dataset.count)])")
    assert len(months) == 12 and all(m.startswith(busiest) for m, _ in months)  # within a year: its months
    assert {d[:7] for d in result_dates(page) if d} <= {m for m, c in months if c > 0}
    assert sum(c for _, c in months) == years[busiest]
    assert "เดือน" in page.inner_text("#histogram figcaption")


def test_a_year_facet_fills_the_date_fields_in_both_calendars(page) -> None:
    search(page, "รัฐบาล")
    year = facet_links(page, "year")[0]
    assert year["label"] == f"{int(year['value']) + 543} ({year['value']})"
    page.click(f'#facets a[data-facet="year"][data-value="{year["value"]}"]')
    wait_for_answer(page)
    assert page.input_value("#date_from") == f"{year['value']}-01-01"
    assert page.inner_text("#date_from-hint") == f"1 มกราคม {int(year['value']) + 543} · {year['value']}-01-01"
    assert all(d and d.startswith(year["value"]) for d in result_dates(page))


def test_on_a_phone_the_refine_box_stacks_above_the_results(browser, base_url: str) -> None:  # noqa: F811
    context = browser.new_context(locale="th-TH", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(base_url + "/?q=รัฐบาล")
        wait_for_answer(page)
        assert page.is_visible("#facets") and page.is_visible("#histogram svg")
        facets, results = page.locator("#facets").bounding_box(), page.locator("#results").bounding_box()
        assert facets["y"] + facets["height"] <= results["y"]  # one column
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
    finally:
        context.close()


# ---- sort -------------------------------------------------------------------------------------------

def test_sort_by_date_orders_the_results(page) -> None:
    search(page, "รัฐบาล")
    relevance = result_ids(page)
    page.select_option("#sort", "date_desc")  # applies at once
    page.wait_for_function("() => new URLSearchParams(location.search).get('sort') === 'date_desc'")
    wait_for_answer(page)
    newest = [d for d in result_dates(page) if d]
    assert len(newest) >= 5 and newest == sorted(newest, reverse=True), newest
    assert result_ids(page) != relevance
    page.click("#next")  # the order carries over to the next page
    wait_for_answer(page)
    second = [d for d in result_dates(page) if d]
    assert second and max(second) <= newest[-1] and url_params(page)["sort"] == ["date_desc"]
    page.select_option("#sort", "date_asc")
    page.wait_for_function("() => new URLSearchParams(location.search).get('sort') === 'date_asc'")
    wait_for_answer(page)
    oldest = [d for d in result_dates(page) if d]
    assert oldest == sorted(oldest) and oldest[0] <= newest[-1]
    assert "page" not in url_params(page)  # a new order starts at the first page


# ---- duplicates -------------------------------------------------------------------------------------

def test_a_duplicate_group_is_one_result_that_expands(page) -> None:
    search(page, CABINET_QUERY)
    ids = result_ids(page)
    shown = [i for i in CABINET_PAIR if i in ids]
    assert len(shown) == 1, ids  # the release and its copy are one result
    kept = shown[0]
    copy = next(i for i in CABINET_PAIR if i != kept)
    toggle = page.locator(f'.result[data-id="{kept}"] .dups-toggle')
    assert toggle.get_attribute("aria-expanded") == "false" and "1" in toggle.inner_text()
    group = page.locator("#" + toggle.get_attribute("aria-controls"))
    assert group.is_hidden()
    toggle.focus()
    page.keyboard.press("Enter")  # a real button: the keyboard opens it
    page.wait_for_selector(f'.result[data-id="{kept}"] .duplicate[data-id="{copy}"]')
    assert toggle.get_attribute("aria-expanded") == "true" and group.is_visible()
    copy_item = group.locator(f'.duplicate[data-id="{copy}"]')
    assert "ยืนยันยังไม่ปรับคณะรัฐมนตรี" in copy_item.inner_text()
    assert THAI_DATE.match(copy_item.locator("time").inner_text())
    assert copy_item.locator("time").get_attribute("datetime") == "2020-06-09"
    assert copy_item.locator("a").get_attribute("href").startswith("https://www.thaigov.go.th/news/contents/details/")
    screenshot(page, "screenshot-duplicates.png", clip={"x": 0, "y": 0, "width": 1200, "height": 1000})
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "false" and group.is_hidden()


# ---- did you mean -----------------------------------------------------------------------------------

def test_did_you_mean_is_a_link_to_the_corrected_search(page, base_url: str) -> None:
    query = "รัฐบาน ดิจิทัล"  # รัฐบาล (government) mistyped
    answer = page.request.get(f"{base_url}/search", params={"q": query, "collapse": "true"}).json()
    better = answer.get("did_you_mean")
    assert better and better != query, answer.get("did_you_mean")
    search(page, query)
    link = page.locator("#did-you-mean-link")
    assert page.is_visible("#did-you-mean") and link.inner_text() == better
    link.click()
    wait_for_answer(page)
    assert url_params(page)["q"] == [better] and page.input_value("#q") == better
    assert page.locator(".result").count() > 0 and page.is_hidden("#did-you-mean")


# ---- dates ------------------------------------------------------------------------------------------

def test_date_fields_take_buddhist_era_dates_and_show_both_calendars(page) -> None:
    page.fill("#date_from", "1/8/2561")
    assert page.inner_text("#date_from-hint") == "1 สิงหาคม 2561 · 2018-08-01"
    page.fill("#date_to", "๓๑/๐๘/๒๕๖๑")  # Thai digits
    assert page.inner_text("#date_to-hint") == "31 สิงหาคม 2561 · 2018-08-31"
    search(page, "รัฐบาล")
    assert url_params(page)["date_from"] == ["2018-08-01"] and url_params(page)["date_to"] == ["2018-08-31"]
    dates = result_dates(page)
    assert dates and all("2018-08-01" <= d <= "2018-08-31" for d in dates)
    assert page.get_attribute("#date_from", "type") == "text"  # not the browser's mm/dd/yyyy picker


def test_a_date_that_does_not_exist_is_refused_where_it_was_typed(page) -> None:
    search(page, "รัฐบาล")
    url = page.url
    page.fill("#date_from", "31/02/2561")
    assert page.get_attribute("#date_from", "aria-invalid") is None  # typing: not yet judged
    page.press("#q", "Enter")
    assert page.get_attribute("#date_from", "aria-invalid") == "true"
    assert "ไม่ใช่วันที่" in page.inner_text("#date_from-hint")
    assert page.evaluate("document.activeElement.id") == "date_from"
    assert page.url == url  # nothing searched with a wrong date
    page.fill("#date_from", "2018-02-28")
    assert page.get_attribute("#date_from", "aria-invalid") is None


# ---- an older server --------------------------------------------------------------------------------

def test_the_page_works_with_a_server_that_lacks_the_new_fields(page, base_url: str) -> None:
    """A server from before issue #14: /search without facets, did_you_mean and duplicates, no /suggest.
    The real server's answers, with those fields taken out on the way to the browser."""
    def older_search(route) -> None:
        response = route.fetch()
        data = response.json()
        data.pop("facets", None)
        data.pop("did_you_mean", None)
        for hit in data.get("results", []):
            hit.pop("duplicates", None)
        route.fulfill(response=response, body=json.dumps(data))

    page.route(re.compile(r".*/search\?.*"), older_search)
    page.route(re.compile(r".*/suggest\?.*"), lambda route: route.fulfill(
        status=404, content_type="application/json", body='{"detail": "Not Found"}'))
    page.goto(base_url + "/")
    page.click("#q")
    page.keyboard.type("ดิจิ")
    page.wait_for_timeout(400)  # past the suggestion delay
    assert page.get_attribute("#q", "aria-expanded") == "false"
    page.keyboard.press("Enter")
    wait_for_answer(page)
    assert page.locator(".result").count() > 0
    assert page.is_hidden("#facets") and page.is_hidden("#did-you-mean")
    assert page.locator(".dups-toggle").count() == 0
    page.select_option("#sort", "date_desc")  # still a working control: the URL keeps it
    page.wait_for_function("() => new URLSearchParams(location.search).get('sort') === 'date_desc'")
    wait_for_answer(page)
    assert page.locator(".result").count() > 0
