"""Any search as a feed (Atom 1.0, RSS 2.0) and the OpenSearch description that lets browsers add the site.

``GET /feed.atom`` and ``GET /feed.rss`` take the same query and filters as ``/search`` (``q``, ``mode``,
``date_from``, ``date_to``, ``category``) plus ``k`` (entries, default ``settings.feed_size``). A feed is a
standing question ("what is new about ข่าวน้ำท่วม?"), so its entries are the most relevant
:data:`FEED_CANDIDATES` releases re-ordered newest first, cut to ``k``: a new release on the topic
enters the candidates and, being the newest, tops the feed. Entry ids are stable UUIDs derived from
the article id, so a feed reader never shows the same release twice.

``GET /opensearch.xml`` (OpenSearch 1.1) names the page, the feeds and itself as URL templates; the
page links it from its ``<head>`` so browsers offer "add as search engine". There is no suggestion
route in this service, so the description has no ``application/x-suggestions+json`` template.

Absolute URLs use ``settings.public_url`` when set (behind a reverse proxy that does not pass
``Host``/``X-Forwarded-Proto``), otherwise the request's own base URL.
"""

import datetime as dt
import email.utils
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import Response

from thaigov_search.api.routes import checked_query, in_threadpool, search_params
from thaigov_search.api.schemas import ERRORS
from thaigov_search.core.filters import Filters
from thaigov_search.core.settings import Settings
from thaigov_search.search.results import SearchResult

ATOM_NS = "http://www.w3.org/2005/Atom"
OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"
ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"
OPENSEARCH_TYPE = "application/opensearchdescription+xml"
FEED_CANDIDATES = 100
"""Releases ranked by relevance before the newest-first cut (capped by ``settings.max_k``)."""
SITE_NAME = "ข่าวรัฐบาลไทย"
SITE_TITLE = "ค้นหาข่าวรัฐบาลไทย · Thai government news search"
THAI_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")
"""Release dates are Thai calendar days: an entry dated 2018-08-29 is stamped 2018-08-29T00:00:00+07:00."""
ENTRY_NAMESPACE = uuid.UUID("5b0c6a52-6b1e-4c1b-9d55-0d1f3c2a7e11")
"""Namespace of the entry ids (uuid5 of the article id): stable across servers, rebuilds and URLs."""
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
FEED_CACHE = "public, max-age=300"
"""Feed readers poll; five minutes of caching by proxies costs nothing for news that arrives daily."""


def xml_text(value: str | None) -> str:
    """Text XML 1.0 can carry: characters it forbids (C0 controls, lone surrogates) dropped."""
    return _NOT_XML.sub("", value or "")


def public_base(request: Request, settings: Settings) -> str:
    """``https://search.example.go.th`` (no trailing slash): the setting, else what the request came to."""
    return (settings.public_url or str(request.base_url)).rstrip("/")


def newest_first(results: Sequence[SearchResult], k: int) -> list[SearchResult]:
    """Dated releases newest first (relevance breaks ties, as the input order), undated ones last."""
    order = sorted(range(len(results)), key=lambda i: (results[i].date is None, _neg_date(results[i].date), i))
    return [results[i] for i in order[:k]]


def _neg_date(date: str | None) -> tuple[int, ...]:
    if not date:
        return (0,)
    return tuple(-int(part) for part in date.split("-"))


def entry_id(article_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(ENTRY_NAMESPACE, article_id)}"


def day_stamp(date: str | None, fallback: dt.datetime) -> dt.datetime:
    if date:
        try:
            return dt.datetime.combine(dt.date.fromisoformat(date), dt.time(), THAI_TZ)
        except ValueError:
            pass
    return fallback


def entry_link(base: str, hit: SearchResult) -> str:
    """The release on thaigov.go.th; the service's own JSON for a release without a web address."""
    if hit.url.lower().startswith(("http://", "https://")):
        return hit.url
    return f"{base}/documents/{quote(hit.id, safe='')}"


class FeedQuery:
    """A feed's question: the same parameters as /search, as a canonical query string."""

    def __init__(self, query: str, mode: str, filters: Filters, k: int | None):
        self.query, self.mode, self.filters, self.k = query, mode, filters, k

    def params(self, with_k: bool = True) -> dict[str, str]:
        out = {"q": self.query}
        if self.mode != "hybrid":
            out["mode"] = self.mode
        out.update(self.filters.given())
        if with_k and self.k is not None:
            out["k"] = str(self.k)
        return out

    def title(self) -> str:
        parts = [f"“{self.query}”"]
        if self.filters.category:
            parts.append(self.filters.category)
        if self.filters.date_from or self.filters.date_to:
            parts.append(f"{self.filters.date_from or '…'} – {self.filters.date_to or '…'}")
        return f"ข่าวรัฐบาลไทย: {' · '.join(parts)}"


def atom_feed(base: str, feed: FeedQuery, hits: Sequence[SearchResult], built_at: dt.datetime) -> bytes:
    """An RFC 4287 feed: id, title, updated, author, self and alternate links; per entry id, title, updated, link."""
    stamps = [day_stamp(h.date, built_at) for h in hits]
    root = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": "th"})
    self_url = f"{base}/feed.atom?{urlencode(feed.params())}"
    ET.SubElement(root, "id").text = self_url
    ET.SubElement(root, "title").text = xml_text(feed.title())
    ET.SubElement(root, "subtitle").text = "ผลการค้นหาข่าวประชาสัมพันธ์รัฐบาล เรียงจากใหม่ไปเก่า (newest first)"
    ET.SubElement(root, "updated").text = max(stamps, default=built_at).isoformat()
    ET.SubElement(ET.SubElement(root, "author"), "name").text = SITE_NAME
    ET.SubElement(root, "generator", {"uri": f"{base}/"}).text = "thaigov-search"
    ET.SubElement(root, "link", {"rel": "self", "type": ATOM_TYPE, "href": self_url})
    ET.SubElement(root, "link", {"rel": "alternate", "type": "text/html",
                                 "href": f"{base}/?{urlencode(feed.params(with_k=False))}"})
    for hit, stamp in zip(hits, stamps, strict=True):
        entry = ET.SubElement(root, "entry")
        ET.SubElement(entry, "id").text = entry_id(hit.id)
        ET.SubElement(entry, "title").text = xml_text(hit.title)
        ET.SubElement(entry, "updated").text = stamp.isoformat()
        if hit.date:
            ET.SubElement(entry, "published").text = stamp.isoformat()
        ET.SubElement(entry, "link", {"rel": "alternate", "type": "text/html", "href": entry_link(base, hit)})
        if hit.category:
            ET.SubElement(entry, "category", {"term": xml_text(hit.category)})
        ET.SubElement(entry, "summary", {"type": "html"}).text = xml_text(hit.snippet)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def rss_feed(base: str, feed: FeedQuery, hits: Sequence[SearchResult], built_at: dt.datetime) -> bytes:
    """An RSS 2.0 channel (title, link, description; per item title, link, guid, pubDate) with atom:link self."""
    stamps = [day_stamp(h.date, built_at) for h in hits]
    root = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM_NS})
    channel = ET.SubElement(root, "channel")
    ET.SubElement(channel, "title").text = xml_text(feed.title())
    ET.SubElement(channel, "link").text = f"{base}/?{urlencode(feed.params(with_k=False))}"
    ET.SubElement(channel, "description").text = "ผลการค้นหาข่าวประชาสัมพันธ์รัฐบาล เรียงจากใหม่ไปเก่า (newest first)"
    ET.SubElement(channel, "language").text = "th"
    ET.SubElement(channel, "lastBuildDate").text = email.utils.format_datetime(max(stamps, default=built_at))
    ET.SubElement(channel, "generator").text = "thaigov-search"
    ET.SubElement(channel, "atom:link", {"rel": "self", "type": RSS_TYPE,
                                         "href": f"{base}/feed.rss?{urlencode(feed.params())}"})
    for hit, stamp in zip(hits, stamps, strict=True):
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = xml_text(hit.title)
        ET.SubElement(item, "link").text = entry_link(base, hit)
        ET.SubElement(item, "guid", {"isPermaLink": "false"}).text = entry_id(hit.id)
        if hit.date:
            ET.SubElement(item, "pubDate").text = email.utils.format_datetime(stamp)
        if hit.category:
            ET.SubElement(item, "category").text = xml_text(hit.category)
        ET.SubElement(item, "description").text = xml_text(hit.snippet)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def opensearch_description(base: str) -> bytes:
    """OpenSearch 1.1: the page, both feeds and this document as URL templates."""
    root = ET.Element("OpenSearchDescription", {"xmlns": OPENSEARCH_NS})
    ET.SubElement(root, "ShortName").text = SITE_NAME  # at most 16 characters
    ET.SubElement(root, "Description").text = "ค้นหาข่าวประชาสัมพันธ์รัฐบาลไทยตามความหมาย (Thai government news search)"
    ET.SubElement(root, "InputEncoding").text = "UTF-8"
    ET.SubElement(root, "OutputEncoding").text = "UTF-8"
    ET.SubElement(root, "Language").text = "th"
    for kind, path in (("text/html", "/?q={searchTerms}"), (ATOM_TYPE, "/feed.atom?q={searchTerms}"),
                       (RSS_TYPE, "/feed.rss?q={searchTerms}")):
        ET.SubElement(root, "Url", {"type": kind, "method": "get", "template": base + path})
    ET.SubElement(root, "Url", {"type": OPENSEARCH_TYPE, "rel": "self", "template": f"{base}/opensearch.xml"})
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def built_time(text: str) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def add_feed_routes(app: FastAPI, state) -> None:
    """``/feed.atom``, ``/feed.rss`` and ``/opensearch.xml`` on the service ``state`` (api.state.ServiceState)."""
    settings: Settings = state.settings

    async def feed_hits(params: tuple[str, str, Filters], k: int | None) -> tuple[FeedQuery, list[SearchResult], dt.datetime]:
        q, mode, filters = params
        query = checked_query(q, settings)
        searcher = state.require()
        candidates = min(FEED_CANDIDATES, settings.max_k)
        response = await in_threadpool(settings, searcher.search, query, candidates, 0, mode, filters)
        feed = FeedQuery(query, mode, filters, k)
        return feed, newest_first(response.results, k or settings.feed_size), built_time(searcher.reader.manifest.built_at)

    feed_k = Annotated[int | None, Query(ge=1, le=settings.max_k, description="Entries (default: the server's FEED_SIZE).")]
    search = Annotated[tuple[str, str, Filters], Depends(search_params)]
    xml_doc = {"description": "The feed document.", "content": {ATOM_TYPE: {}}}

    @app.get("/feed.atom", response_class=Response, responses=ERRORS | {200: xml_doc}, tags=["feeds"])
    async def feed_atom(request: Request, params: search, k: feed_k = None) -> Response:
        """A search as an Atom 1.0 feed, newest first (same parameters as /search)."""
        feed, hits, built = await feed_hits(params, k)
        body = atom_feed(public_base(request, settings), feed, hits, built)
        return Response(body, media_type=f"{ATOM_TYPE}; charset=utf-8", headers={"Cache-Control": FEED_CACHE})

    @app.get("/feed.rss", response_class=Response, responses=ERRORS | {200: {**xml_doc, "content": {RSS_TYPE: {}}}},
             tags=["feeds"])
    async def feed_rss(request: Request, params: search, k: feed_k = None) -> Response:
        """A search as an RSS 2.0 feed, newest first (same parameters as /search)."""
        feed, hits, built = await feed_hits(params, k)
        body = rss_feed(public_base(request, settings), feed, hits, built)
        return Response(body, media_type=f"{RSS_TYPE}; charset=utf-8", headers={"Cache-Control": FEED_CACHE})

    @app.get("/opensearch.xml", response_class=Response, tags=["feeds"],
             responses={200: {"description": "OpenSearch 1.1 description.", "content": {OPENSEARCH_TYPE: {}}}})
    async def opensearch(request: Request) -> Response:
        """The OpenSearch description browsers use to offer this site as a search engine."""
        return Response(opensearch_description(public_base(request, settings)),
                        media_type=f"{OPENSEARCH_TYPE}; charset=utf-8", headers={"Cache-Control": "public, max-age=86400"})
