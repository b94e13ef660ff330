"""The page and widget parts of issue #12 in a real browser: feed links, OpenSearch, the rate-limit message."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import feedparser
import pytest

from tests.test_api import running
from tests.test_web_page import CHROMIUM, browser, portal, wait_for_answer  # noqa: F401 - fixtures
from thaigov_search.api.app import create_app
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium: apt-get install -y chromium fonts-thai-tlwg"),
]


def serve(sample_index: Path, settings: Settings, embedder, **overrides) -> Iterator[str]:
    app_settings = settings.model_copy(update={"api_key": None, **overrides})
    with running(create_app(sample_index, app_settings, Searcher(sample_index, app_settings, embedder=embedder))) as url:
        yield url


@pytest.fixture(scope="module")
def base_url(sample_index: Path, settings: Settings, embedder) -> Iterator[str]:
    yield from serve(sample_index, settings, embedder)


@pytest.fixture(scope="module")
def limited_url(sample_index: Path, settings: Settings, embedder, portal: ThreadingHTTPServer) -> Iterator[str]:  # noqa: F811
    """Three requests at once, then one every 20 s; the portal's origin may use the widget."""
    origin = f"http://127.0.0.1:{portal.server_port}"
    for url in serve(sample_index, settings, embedder, rate_limit_per_s=0.05, rate_limit_burst=3, cors_origins=[origin]):
        portal.html = (  # type: ignore[attr-defined]
            '<!doctype html><html lang="th"><meta charset="utf-8"><title>Portal</title>'
            f'<div id="thaigov-search"></div><script src="{url}/widget.js" data-target="#thaigov-search"></script>')
        yield url


@pytest.fixture()
def page(browser):  # noqa: F811
    context = browser.new_context(locale="th-TH")
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_a_search_offers_its_feed_and_the_page_offers_opensearch(page, base_url: str) -> None:
    page.goto(f"{base_url}/?q=รัฐบาลดิจิทัล&category=ด้านเศรษฐกิจ")
    wait_for_answer(page)
    assert page.is_visible("#feeds")
    atom = page.get_attribute("#feed-atom", "href")
    assert urlparse(atom).path == "/feed.atom"
    assert parse_qs(urlparse(atom).query) == {"q": ["รัฐบาลดิจิทัล"], "category": ["ด้านเศรษฐกิจ"]}
    assert page.get_attribute('link[rel="alternate"][type="application/atom+xml"]', "href") == atom
    assert urlparse(page.get_attribute("#feed-rss", "href")).path == "/feed.rss"
    feed = feedparser.parse(page.request.get(base_url + atom).body())
    assert feed.bozo == 0 and feed.entries
    assert all(tag.term == "ด้านเศรษฐกิจ" for e in feed.entries for tag in e.tags)
    assert page.get_attribute('link[rel="search"]', "href") == "/opensearch.xml"
    page.goto(f"{base_url}/")
    assert not page.is_visible("#feeds")  # no query, nothing to subscribe to


def test_over_the_rate_limit_the_page_and_the_widget_say_when_to_try_again(
        page, limited_url: str, portal: ThreadingHTTPServer) -> None:  # noqa: F811
    page.goto(f"{limited_url}/?q=รัฐบาล")  # /categories and /search: two of the three
    wait_for_answer(page)
    assert page.locator(".result").count() > 0
    page.fill("#q", "เศรษฐกิจ")
    page.click("#submit")  # the third
    wait_for_answer(page)
    page.fill("#q", "การศึกษา")
    page.click("#submit")  # one too many
    page.wait_for_selector("#error .busy")
    message = page.inner_text("#error")
    assert "กรุณารอ" in message and "please wait" in message and "429" not in message
    seconds = int(message.split("กรุณารอ ")[1].split(" ")[0])
    assert 1 <= seconds <= 20

    page.goto(f"http://127.0.0.1:{portal.server_port}/")  # the widget on a portal, same client address
    page.fill("#thaigov-search input", "รัฐบาล")
    page.press("#thaigov-search input", "Enter")
    page.wait_for_selector("#thaigov-search .busy")
    assert "กรุณารอ" in page.inner_text("#thaigov-search .busy")
    assert page.locator("#thaigov-search .err").count() == 0
