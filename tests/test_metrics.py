"""GET /metrics from a real server, parsed by prometheus_client's own text-format parser."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from tests.test_api import API_KEY, EGOV_FORUM, NEW_ARTICLE, client_for
from thaigov_search.api.app import create_app
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher

METRICS_KEY = "scrape-key-41d0"


def scrape(client: httpx.Client, **headers: str) -> dict[str, list]:
    """Metric name → its samples, as Prometheus would read them."""
    response = client.get("/metrics", headers=headers)
    response.raise_for_status()
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST  # the Prometheus text format
    families = {}
    for family in text_string_to_metric_families(response.text):
        families[family.name] = family.samples
    return families


def value(families: dict[str, list], sample_name: str, **labels: str) -> float:
    family = sample_name.removesuffix("_total").removesuffix("_count").removesuffix("_sum").removesuffix("_bucket")
    found = [s.value for s in families[family] if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (sample_name, labels, families[family])
    return found[0]


@pytest.fixture()
def client(writable_index: Path, settings: Settings, embedder) -> Iterator[httpx.Client]:
    app_settings = settings.model_copy(update={"metrics": True, "api_key": API_KEY})
    with client_for(create_app(writable_index, app_settings, Searcher(writable_index, app_settings, embedder=embedder))) as c:
        yield c


def test_requests_are_counted_and_timed_per_route_template(client: httpx.Client) -> None:
    for query in ("การประชุมรัฐบาลดิจิทัล", "digital government seminar 2018", "น้ำท่วม"):
        client.get("/search", params={"q": query}).raise_for_status()
    client.get(f"/documents/{EGOV_FORUM}").raise_for_status()
    assert client.get("/documents/tg999999").status_code == 404
    assert client.get("/search", params={"q": ""}).status_code == 422
    assert client.get("/no/such/route").status_code == 404
    families = scrape(client)
    total = "thaigov_search_http_requests_total"
    assert value(families, total, route="/search", method="GET", status="200") == 3
    assert value(families, total, route="/search", method="GET", status="422") == 1
    assert value(families, total, route="/documents/{doc_id}", method="GET", status="200") == 1
    assert value(families, total, route="/documents/{doc_id}", method="GET", status="404") == 1
    assert value(families, total, route="unmatched", method="GET", status="404") == 1
    assert not [s for s in families["thaigov_search_http_requests"] if "tg999999" in str(s.labels)]
    histogram = "thaigov_search_http_request_duration_seconds"
    assert value(families, f"{histogram}_count", route="/search") == 4
    assert value(families, f"{histogram}_bucket", route="/search", le="+Inf") == 4
    assert value(families, f"{histogram}_sum", route="/search") > 0
    # one query embedding per hybrid search (the 422 never got that far)
    assert value(families, "thaigov_search_query_embedding_seconds_count") == 3
    assert "thaigov_search_http_errors" not in families or not families["thaigov_search_http_errors"]
    assert value(families, "process_resident_memory_bytes") > 0


def test_index_gauges_follow_writes(client: httpx.Client) -> None:
    stats = client.get("/stats").json()
    before = scrape(client)
    assert value(before, "thaigov_search_index_ready") == 1
    assert value(before, "thaigov_search_index_articles") == stats["articles"]
    assert value(before, "thaigov_search_index_passages") == stats["passages"]
    generation = value(before, "thaigov_search_index_generation")
    refreshed = value(before, "thaigov_search_index_last_refresh_timestamp_seconds")
    assert 0 < value(before, "thaigov_search_index_built_timestamp_seconds") <= refreshed <= time.time()

    client.post("/documents", json=NEW_ARTICLE, headers={"X-API-Key": API_KEY}).raise_for_status()
    client.get("/search", params={"q": "น้ำประปาพลังงานแสงอาทิตย์"}).raise_for_status()  # the reader catches up
    after = scrape(client)
    assert value(after, "thaigov_search_index_articles") == stats["articles"] + 1
    assert value(after, "thaigov_search_index_generation") > generation
    assert value(after, "thaigov_search_index_last_refresh_timestamp_seconds") > refreshed


def test_server_errors_are_counted(sample_index: Path, settings: Settings, embedder) -> None:
    hurried = settings.model_copy(update={"metrics": True, "request_timeout_s": 0.0001})
    with client_for(create_app(sample_index, hurried, Searcher(sample_index, hurried, embedder=embedder))) as c:
        assert c.get("/search", params={"q": "รัฐบาล"}).status_code == 504
        families = scrape(c)
    assert value(families, "thaigov_search_http_errors_total", route="/search") == 1
    assert value(families, "thaigov_search_http_requests_total", route="/search", method="GET", status="504") == 1


def test_metrics_are_off_unless_enabled_and_can_require_a_key(sample_index: Path, settings: Settings, embedder) -> None:
    searcher = Searcher(sample_index, settings, embedder=embedder)
    assert settings.metrics is False
    with client_for(create_app(sample_index, settings, searcher)) as c:
        assert c.get("/metrics").status_code == 404
    keyed = settings.model_copy(update={"metrics": True, "metrics_key": METRICS_KEY})
    with client_for(create_app(sample_index, keyed, searcher)) as c:
        response = c.get("/metrics")
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert "thaigov_search_index_articles" in scrape(c, Authorization=f"Bearer {METRICS_KEY}")
        assert "thaigov_search_index_articles" in scrape(c, **{"X-API-Key": METRICS_KEY})
