"""Feeds (Atom, RSS) and the OpenSearch description, fetched from a real server and parsed back.

The feeds are checked twice: by ``feedparser`` (what feed readers use; ``bozo`` flags any XML or
format problem) and structurally against the specs' required elements (RFC 4287 for Atom, RSS 2.0's
channel and item elements), so a feed one lenient parser accepts but the spec forbids still fails.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import httpx
import pytest

from tests.test_api import API_KEY, client_for
from thaigov_search.api.app import create_app
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher

ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
FLOOD_RELEASES = [  # two releases about floods, added through the API: the sample corpus has none
    {"id": "moi-flood-0001", "date": "2024-09-10", "category": "ด้านสังคม",
     "title": "นายกรัฐมนตรีสั่งการช่วยเหลือผู้ประสบภัยน้ำท่วมจังหวัดเชียงราย",
     "body": "นายกรัฐมนตรีสั่งการให้ทุกหน่วยงานเร่งช่วยเหลือผู้ประสบภัยน้ำท่วมในจังหวัดเชียงราย "
             "ส่งเรือ อาหาร และน้ำดื่มเข้าพื้นที่ พร้อมเปิดศูนย์พักพิงชั่วคราวให้ประชาชนที่บ้านเรือนถูกน้ำท่วม",
     "url": "https://www.thaigov.go.th/news/contents/details/900001"},
    {"id": "moi-flood-0002", "date": "2024-10-01", "category": "ด้านสังคม",
     "title": "ครม. อนุมัติงบกลางเยียวยาเกษตรกรที่ได้รับผลกระทบจากน้ำท่วม",
     "body": "คณะรัฐมนตรีอนุมัติงบกลางเพื่อเยียวยาเกษตรกรที่นาข้าวเสียหายจากน้ำท่วมในภาคเหนือและภาคอีสาน "
             "ครัวเรือนละไม่เกินสามหมื่นบาท โดยกรมส่งเสริมการเกษตรจะสำรวจความเสียหายให้เสร็จภายในสามสิบวัน",
     "url": ""},
]


@pytest.fixture(scope="module")
def client(sample_index: Path, settings: Settings, embedder) -> Iterator[httpx.Client]:
    searcher = Searcher(sample_index, settings, embedder=embedder)
    with client_for(create_app(sample_index, settings.model_copy(update={"api_key": None}), searcher)) as c:
        yield c


@pytest.fixture()
def flood_client(writable_index: Path, settings: Settings, embedder) -> Iterator[httpx.Client]:
    """A server over a private index with the two flood releases added through POST /documents."""
    app_settings = settings.model_copy(update={"api_key": API_KEY})
    searcher = Searcher(writable_index, app_settings, embedder=embedder)
    with client_for(create_app(writable_index, app_settings, searcher)) as c:
        c.post("/documents", json=FLOOD_RELEASES, headers={"X-API-Key": API_KEY}).raise_for_status()
        yield c


def rfc3339(text: str) -> dt.datetime:
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert stamp.tzinfo is not None, f"{text} has no time zone (RFC 3339 needs one)"
    return stamp


def check_atom_structure(body: bytes, self_url: str) -> list[ET.Element]:
    """RFC 4287 section 4.1: the required elements of a feed and its entries. Returns the entries."""
    root = ET.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, f"atom:feed needs exactly one atom:{name}"
    rfc3339(root.findtext(f"{ATOM}updated"))
    assert root.find(f"{ATOM}author/{ATOM}name").text, "atom:feed needs an author when entries have none"
    self_links = [link for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert len(self_links) == 1 and self_links[0].get("href") == self_url
    entries = root.findall(f"{ATOM}entry")
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == len(ids), "entry ids must be unique"
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, f"atom:entry needs exactly one atom:{name}"
        rfc3339(entry.findtext(f"{ATOM}updated"))
        assert entry.findtext(f"{ATOM}id").startswith("urn:uuid:")
        # No atom:content, so an alternate link is required (4.1.1.c)
        assert [link for link in entry.findall(f"{ATOM}link") if link.get("rel") == "alternate"]
        assert entry.find(f"{ATOM}summary").get("type") == "html"
    return entries


def check_rss_structure(body: bytes) -> list[ET.Element]:
    """RSS 2.0: one channel with title, link, description; items with a title and a unique guid."""
    root = ET.fromstring(body)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    for name in ("title", "link", "description"):
        assert channel.findtext(name), f"channel needs <{name}>"
    email.utils.parsedate_to_datetime(channel.findtext("lastBuildDate"))
    items = channel.findall("item")
    guids = [i.findtext("guid") for i in items]
    assert len(set(guids)) == len(guids)
    for item in items:
        assert item.findtext("title") and item.findtext("link").startswith("http")
        assert item.find("guid").get("isPermaLink") == "false"
        if item.find("pubDate") is not None:
            assert email.utils.parsedate_to_datetime(item.findtext("pubDate")).tzinfo is not None
    return items


def dates_of(parsed) -> list[tuple]:
    return [tuple(e.updated_parsed[:3]) if "updated_parsed" in e else tuple(e.published_parsed[:3]) for e in parsed.entries]


# ------------------------------------------------------------------------------------- Atom
def test_a_citizen_subscribes_to_flood_news_and_gets_the_releases_newest_first(flood_client: httpx.Client) -> None:
    response = flood_client.get("/feed.atom", params={"q": "น้ำท่วม", "mode": "lexical"})
    response.raise_for_status()
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == [FLOOD_RELEASES[1]["title"], FLOOD_RELEASES[0]["title"]]
    assert [e.link for e in parsed.entries] == [
        f"{flood_client.base_url}/documents/moi-flood-0002",  # no source URL: the service's own record
        FLOOD_RELEASES[0]["url"]]
    assert parsed.entries[0].published_parsed[:3] == (2024, 9, 30)  # 2024-10-01 00:00 ICT is 30 Sep 17:00 UTC
    assert "น้ำท่วม" in parsed.entries[0].summary  # feedparser's sanitiser drops <mark>; the feed has it:
    entries = check_atom_structure(response.content, str(response.url))
    assert "<mark>น้ำท่วม</mark>" in entries[0].findtext(f"{ATOM}summary")
    assert parsed.feed.updated.startswith("2024-10-01T00:00:00+07:00")


def test_a_feed_entry_keeps_its_id_when_new_releases_arrive(flood_client: httpx.Client) -> None:
    before = feedparser.parse(flood_client.get("/feed.atom", params={"q": "น้ำท่วม", "mode": "lexical"}).content)
    newer = dict(FLOOD_RELEASES[0], id="moi-flood-0003", date="2024-11-05",
                 title="รัฐบาลเตรียมแผนรับมือน้ำท่วมปีหน้า ขุดลอกคูคลองทั่วประเทศ")
    flood_client.post("/documents", json=newer, headers={"X-API-Key": API_KEY}).raise_for_status()
    after = feedparser.parse(flood_client.get("/feed.atom", params={"q": "น้ำท่วม", "mode": "lexical"}).content)
    assert after.entries[0].title == newer["title"]
    assert [e.id for e in after.entries[1:]] == [e.id for e in before.entries]


def test_the_atom_feed_is_newest_first_over_the_whole_sample(client: httpx.Client) -> None:
    response = client.get("/feed.atom", params={"q": "การประชุมรัฐบาลดิจิทัล", "k": 15})
    parsed = feedparser.parse(response.raise_for_status().content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    total = client.get("/search", params={"q": "การประชุมรัฐบาลดิจิทัล"}).raise_for_status().json()["total"]
    assert len(parsed.entries) == min(15, total) > 1  # a feed holds the query's result set, at most k
    dates = dates_of(parsed)
    assert dates == sorted(dates, reverse=True)
    check_atom_structure(response.content, str(response.url))


def test_feed_filters_are_the_search_filters(client: httpx.Client) -> None:
    params = {"q": "รัฐบาล", "category": "ด้านเศรษฐกิจ", "date_from": "2018-08-01", "date_to": "2018-12-31"}
    searched = client.get("/search", params=params | {"k": 100}).raise_for_status().json()
    parsed = feedparser.parse(client.get("/feed.atom", params=params | {"k": 100}).raise_for_status().content)
    assert parsed.bozo == 0
    assert len(parsed.entries) == len(searched["results"]) > 0
    assert {e.title for e in parsed.entries} == {r["title"] for r in searched["results"]}
    for entry in parsed.entries:
        assert [t.term for t in entry.tags] == ["ด้านเศรษฐกิจ"]
        assert (2018, 8, 1) <= tuple(entry.updated_parsed[:3]) <= (2018, 12, 31)
    assert "ด้านเศรษฐกิจ" in parsed.feed.title and "รัฐบาล" in parsed.feed.title


def test_the_default_feed_size_is_the_setting(client: httpx.Client, settings: Settings) -> None:
    parsed = feedparser.parse(client.get("/feed.atom", params={"q": "government"}).content)
    total = client.get("/search", params={"q": "government"}).raise_for_status().json()["total"]
    assert len(parsed.entries) == min(settings.feed_size, total) > 1


# -------------------------------------------------------------------------------------- RSS
def test_the_rss_feed_has_the_same_releases_in_the_same_order(client: httpx.Client) -> None:
    params = {"q": "digital government seminar 2018", "k": 10}
    atom = feedparser.parse(client.get("/feed.atom", params=params).content)
    response = client.get("/feed.rss", params=params).raise_for_status()
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    rss = feedparser.parse(response.content)
    assert rss.bozo == 0, rss.get("bozo_exception")
    assert rss.version == "rss20"
    assert [e.title for e in rss.entries] == [e.title for e in atom.entries]
    assert [e.id for e in rss.entries] == [e.id for e in atom.entries]
    one_day = client.get("/feed.rss", params={"q": "eGovernment", "date_from": "2018-08-29", "date_to": "2018-08-29"})
    assert "http://www.thaigov.go.th/news/contents/details/15018" in [e.link for e in feedparser.parse(one_day.content).entries]
    items = check_rss_structure(response.content)
    found = client.get("/search", params=params).json()["total"]  # the query's result set (issue #14)
    assert len(items) == min(10, found) > 0
    self_link = ET.fromstring(response.content).find(f"channel/{ATOM}link")
    assert self_link.get("rel") == "self" and self_link.get("href") == str(response.url)


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("path", ["/feed.atom", "/feed.rss"])
def test_a_feed_rejects_what_search_rejects(client: httpx.Client, path: str) -> None:
    for params, word in [({"q": "   "}, "empty"), ({"q": "x", "mode": "fuzzy"}, "mode"),
                         ({"q": "x", "date_from": "2019-01-01", "date_to": "2018-01-01"}, "date"),
                         ({"q": "x", "k": 0}, "k")]:
        response = client.get(path, params=params)
        assert response.status_code == 422, response.text
        assert word in response.json()["detail"].lower()


def test_public_url_setting_makes_the_links_absolute_on_the_portal(sample_index: Path, settings: Settings,
                                                                    embedder) -> None:
    public = settings.model_copy(update={"public_url": "https://search.example.go.th/"})
    with client_for(create_app(sample_index, public, Searcher(sample_index, public, embedder=embedder))) as c:
        parsed = feedparser.parse(c.get("/feed.atom", params={"q": "eGovernment"}).content)
        assert parsed.feed.link == "https://search.example.go.th/?q=eGovernment"
        description = ET.fromstring(c.get("/opensearch.xml").content)
        assert {u.get("template") for u in description.findall(f"{OPENSEARCH}Url")} >= {
            "https://search.example.go.th/?q={searchTerms}", "https://search.example.go.th/opensearch.xml"}


# ------------------------------------------------------------------------------- OpenSearch
class HeadLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "link":
            self.links.append(dict(attrs))


def test_browsers_find_the_opensearch_description_and_its_template_searches(client: httpx.Client) -> None:
    parser = HeadLinks()
    parser.feed(client.get("/").raise_for_status().text)
    search_links = [link for link in parser.links if link.get("rel") == "search"]
    assert search_links == [{"rel": "search", "type": "application/opensearchdescription+xml",
                             "title": "ข่าวรัฐบาลไทย", "href": "/opensearch.xml"}]

    response = client.get("/opensearch.xml").raise_for_status()
    assert response.headers["content-type"] == "application/opensearchdescription+xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == f"{OPENSEARCH}OpenSearchDescription"
    assert 0 < len(root.findtext(f"{OPENSEARCH}ShortName")) <= 16  # the spec's limit
    assert root.findtext(f"{OPENSEARCH}Description")
    templates = {u.get("type"): u.get("template") for u in root.findall(f"{OPENSEARCH}Url")}
    html = templates["text/html"]
    assert html == f"{client.base_url}/?q={{searchTerms}}"
    assert "application/x-suggestions+json" not in templates  # no suggestion route in this service
    # What a browser does with it: substitute the typed words, then follow it (the page reads ?q=)
    assert client.get(html.replace("{searchTerms}", "รัฐบาลดิจิทัล")).status_code == 200
    feed = feedparser.parse(client.get(templates["application/atom+xml"].replace("{searchTerms}", "eGovernment")).content)
    assert feed.bozo == 0 and feed.version == "atom10" and feed.entries
    assert feedparser.parse(client.get(templates["application/rss+xml"].replace("{searchTerms}", "eGovernment")).content).entries
