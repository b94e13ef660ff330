"""The HTTP API against a real uvicorn server on a free local port, over the real sample index."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from thaigov_search.api.app import create_app
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher

EGOV_FORUM = "tg012535"  # "eGovernment Forum 2018", 29 August 2018
PORTAL = "http://portal.example.go.th"
API_KEY = "test-key-7f3a9c2e"
RESULT_KEYS = {"id", "title", "date", "category", "url", "score", "snippet", "duplicates", "twin"}
NEW_ARTICLE = {
    "id": "moi-test-0001",
    "title": "กระทรวงมหาดไทยเปิดศูนย์ทดลองระบบน้ำประปาพลังงานแสงอาทิตย์ในจังหวัดน่าน",
    "body": (
        "นายกรัฐมนตรีเป็นประธานเปิดศูนย์ทดลองระบบน้ำประปาพลังงานแสงอาทิตย์ ณ จังหวัดน่าน "
        "เพื่อให้ชุมชนบนพื้นที่สูงมีน้ำสะอาดใช้ตลอดปี โดยใช้แผงโซลาร์เซลล์สูบน้ำจากลำธารขึ้นสู่ถังพักน้ำ "
        "และขยายผลไปยังหมู่บ้านห่างไกลอีกสามสิบแห่งภายในปีหน้า"
    ),
    "date": "2024-03-15",
    "category": "ด้านสังคม",
    "url": "https://www.thaigov.go.th/news/contents/details/999999",
}


# ------------------------------------------------------------------------------- live server
@contextmanager
def running(app) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn server in a thread on a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextmanager
def client_for(app) -> Iterator[httpx.Client]:
    with running(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def searcher(sample_index: Path, settings: Settings, embedder) -> Searcher:
    return Searcher(sample_index, settings, embedder=embedder)


@pytest.fixture(scope="module")
def client(sample_index: Path, settings: Settings, searcher: Searcher) -> Iterator[httpx.Client]:
    """Read-only server: no API key (writes disabled), one CORS origin allowed."""
    app_settings = settings.model_copy(update={"api_key": None, "cors_origins": [PORTAL]})
    with client_for(create_app(sample_index, app_settings, searcher)) as c:
        yield c


@pytest.fixture()
def writer(writable_index: Path, settings: Settings, embedder) -> Iterator[httpx.Client]:
    """A server with writes enabled, over a private copy of the sample index."""
    app_settings = settings.model_copy(update={"api_key": API_KEY, "max_body_bytes": 64 * 1024})
    searcher = Searcher(writable_index, app_settings, embedder=embedder)
    with client_for(create_app(writable_index, app_settings, searcher)) as c:
        yield c


def assert_error(response: httpx.Response, status: int, *words: str) -> str:
    """An error answer: the status, JSON, and a reason mentioning the given words."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    for word in words:
        assert word.lower() in detail.lower(), detail
    assert "Traceback" not in response.text
    return detail


# -------------------------------------------------------------------------------------- search
def test_thai_query_finds_the_egov_forum_release(client: httpx.Client) -> None:
    data = client.get("/search", params={"q": "การประชุมรัฐบาลดิจิทัล", "k": 10}).raise_for_status().json()
    assert data["query"] == "การประชุมรัฐบาลดิจิทัล"
    assert data["total"] >= len(data["results"]) > 0
    assert data["took_ms"] >= 0
    assert EGOV_FORUM in [r["id"] for r in data["results"]]
    for result in data["results"]:
        assert set(result) == RESULT_KEYS


def test_english_query_finds_the_egov_forum_release_first(client: httpx.Client) -> None:
    data = client.get("/search", params={"q": "digital government seminar 2018", "k": 5}).raise_for_status().json()
    assert [r["id"] for r in data["results"]][:3].count(EGOV_FORUM) == 1, data["results"]
    hit = next(r for r in data["results"] if r["id"] == EGOV_FORUM)
    assert hit["date"] == "2018-08-29"
    assert hit["url"] == "http://www.thaigov.go.th/news/contents/details/15018"
    assert "eGovernment Forum 2018" in hit["title"]


def test_snippets_mark_matched_words_and_escape_everything_else(client: httpx.Client) -> None:
    data = client.get("/search", params={"q": "eGovernment Forum", "mode": "lexical"}).raise_for_status().json()
    snippet = data["results"][0]["snippet"]
    assert "<mark>" in snippet
    stripped = snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_every_mode_answers_with_ranked_results(client: httpx.Client, mode: str) -> None:
    data = client.get("/search", params={"q": "รัฐบาลดิจิทัล", "mode": mode, "k": 5}).raise_for_status().json()
    scores = [r["score"] for r in data["results"]]
    assert scores and scores == sorted(scores, reverse=True)


def test_offset_and_k_page_through_the_same_ranking(client: httpx.Client) -> None:
    params = {"q": "นายกรัฐมนตรี ประชุม", "mode": "lexical"}
    first = client.get("/search", params=params | {"k": 6}).json()["results"]
    page2 = client.get("/search", params=params | {"k": 3, "offset": 3}).json()["results"]
    assert len(first) == 6
    assert [r["id"] for r in page2] == [r["id"] for r in first[3:6]]


def test_date_filter_keeps_only_releases_in_the_range(client: httpx.Client) -> None:
    params = {"q": "รัฐบาล", "k": 50, "date_from": "2018-08-01", "date_to": "2018-08-31"}
    data = client.get("/search", params=params).raise_for_status().json()
    assert data["results"]
    assert all("2018-08-01" <= r["date"] <= "2018-08-31" for r in data["results"])
    unfiltered = client.get("/search", params={"q": "รัฐบาล", "k": 50}).json()
    assert unfiltered["total"] > data["total"]


def test_category_filter_keeps_only_that_category(client: httpx.Client) -> None:
    category = client.get("/categories").json()[0]["category"]
    data = client.get("/search", params={"q": "รัฐบาล", "k": 20, "category": category}).raise_for_status().json()
    assert data["results"] and {r["category"] for r in data["results"]} == {category}


def test_filters_that_match_nothing_give_an_empty_list(client: httpx.Client) -> None:
    data = client.get("/search", params={"q": "รัฐบาล", "date_to": "1990-01-01"}).raise_for_status().json()
    assert data["total"] == 0 and data["results"] == []


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("", 422, ["q", "required"]),
        ("q=", 422, ["empty"]),
        ("q=%20%20%09", 422, ["empty"]),
        ("q=" + "ก" * 1001, 422, ["1001", "1000"]),
        ("q=ok&k=0", 422, ["k"]),
        ("q=ok&k=101", 422, ["k", "100"]),
        ("q=ok&k=ten", 422, ["k", "integer"]),
        ("q=ok&offset=-1", 422, ["offset"]),
        ("q=ok&date_from=2018-13-01", 422, ["date_from", "YYYY-MM-DD"]),
        ("q=ok&date_to=29/08/2018", 422, ["date_to", "YYYY-MM-DD"]),
        ("q=ok&date_from=2019-01-01&date_to=2018-01-01", 422, ["after"]),
        ("q=ok&mode=fuzzy", 422, ["mode", "hybrid"]),
        ("q=a%00b", 422, ["control"]),
        ("q=a%1Bb", 422, ["control"]),
        ("q=ok&category=a%07b", 422, ["category", "control"]),
        ("q=%FF%FEabc", 400, ["UTF-8"]),
        ("q=%E0%B8", 400, ["UTF-8"]),
    ],
    ids=["missing", "empty", "whitespace", "too-long", "k-zero", "k-over-max", "k-not-int", "negative-offset",
         "bad-month", "not-iso-date", "from-after-to", "unknown-mode", "nul", "escape", "category-control",
         "invalid-utf8", "truncated-utf8"],
)
def test_bad_search_input_is_a_4xx_with_a_reason(client: httpx.Client, query: str, status: int, words: list[str]) -> None:
    assert_error(client.get(f"/search?{query}"), status, *words)


def test_the_longest_allowed_query_is_accepted(client: httpx.Client, settings: Settings) -> None:
    response = client.get("/search", params={"q": "ข่าว " * (settings.max_query_chars // 5), "k": 1})
    assert response.status_code == 200, response.text


def test_unknown_routes_and_methods_answer_json(client: httpx.Client) -> None:
    assert_error(client.get("/nowhere"), 404, "/nowhere")
    assert_error(client.get("/static/missing.css"), 404)
    assert_error(client.put("/search"), 405, "PUT")


# -------------------------------------------------------------------------------- documents
def test_document_comes_back_whole(client: httpx.Client) -> None:
    doc = client.get(f"/documents/{EGOV_FORUM}").raise_for_status().json()
    assert set(doc) == {"id", "title", "date", "category", "url", "language", "body", "duplicates", "twin"}
    assert doc["id"] == EGOV_FORUM and doc["date"] == "2018-08-29" and doc["language"] == "th"
    assert "ประจิน" in doc["body"] and "eGovernment Forum 2018" in doc["title"]


def test_unknown_document_is_404_with_reason(client: httpx.Client) -> None:
    assert_error(client.get("/documents/tg999999999"), 404, "tg999999999")
    assert_error(client.get("/documents/tg999999999/similar"), 404, "tg999999999")


@pytest.mark.parametrize("doc_id", ["a%20b", "..%2F..%2Fetc%2Fpasswd", "x" * 201, "a%3Cscript%3E", "a%27%20OR%201", "%E2%80%8B"])
def test_malformed_document_ids_are_refused(client: httpx.Client, doc_id: str) -> None:
    response = client.get(f"/documents/{doc_id}")
    assert response.status_code in (404, 422), response.text
    assert_error(response, response.status_code)


def test_thai_ids_are_valid_ids(client: httpx.Client) -> None:
    assert_error(client.get("/documents/thaigov-corpus_21_ด้านเศรษฐกิจ_4"), 404, "ด้านเศรษฐกิจ")


def test_invalid_utf8_in_the_path_is_400(client: httpx.Client) -> None:
    assert_error(client.get("/documents/%FF"), 400, "UTF-8")


def test_similar_releases_never_include_the_release_itself(client: httpx.Client) -> None:
    data = client.get(f"/documents/{EGOV_FORUM}/similar", params={"k": 5}).raise_for_status().json()
    ids = [r["id"] for r in data["results"]]
    assert 0 < len(ids) <= 5 and EGOV_FORUM not in ids
    assert len(set(ids)) == len(ids)
    assert all(set(r) == RESULT_KEYS for r in data["results"])


def test_similar_checks_k(client: httpx.Client) -> None:
    assert_error(client.get(f"/documents/{EGOV_FORUM}/similar", params={"k": 0}), 422, "k")


# ------------------------------------------------------------------------- index information
def test_categories_count_every_article(client: httpx.Client) -> None:
    rows = client.get("/categories").raise_for_status().json()
    stats = client.get("/stats").raise_for_status().json()
    assert rows and all(set(r) == {"category", "count"} for r in rows)
    assert sum(r["count"] for r in rows) == stats["articles"]
    counts = [r["count"] for r in rows]
    assert counts == sorted(counts, reverse=True)


def test_stats_describe_the_index(client: httpx.Client) -> None:
    stats = client.get("/stats").raise_for_status().json()
    assert set(stats) == {"articles", "passages", "model", "dimension", "built_at"}
    assert stats["passages"] >= stats["articles"] > 0
    assert stats["dimension"] > 0 and stats["model"]


def test_health_is_ok_once_loaded(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_health_is_503_while_the_index_loads_then_200(
    sample_index: Path, settings: Settings, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()

    def slow_searcher(index_dir: Path, app_settings: Settings, **options) -> Searcher:
        assert gate.wait(30)
        return Searcher(index_dir, app_settings, embedder=embedder, **options)  # the service opens with verify="later"

    monkeypatch.setattr("thaigov_search.api.state.Searcher", slow_searcher)
    with client_for(create_app(sample_index, settings)) as c:
        response = c.get("/health")
        assert response.status_code == 503 and response.json() == {"status": "loading"}
        assert_error(c.get("/search", params={"q": "รัฐบาล"}), 503, "loading")
        gate.set()
        deadline = time.monotonic() + 30
        while c.get("/health").status_code != 200:
            assert time.monotonic() < deadline, "the index never finished loading"
            time.sleep(0.05)
        assert c.get("/health").json() == {"status": "ok"}
        assert c.get("/search", params={"q": "รัฐบาล"}).status_code == 200


def test_an_index_that_cannot_be_opened_is_reported_not_crashed(tmp_path: Path, settings: Settings) -> None:
    with client_for(create_app(tmp_path / "no-index", settings)) as c:
        deadline = time.monotonic() + 30
        while (health := c.get("/health").json())["status"] == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert health["status"] == "error" and "no index" in health["detail"].lower()
        assert_error(c.get("/stats"), 503, "index")


# ------------------------------------------------------------------ timeouts and failures
class SlowSearcher:
    """Delegates to a real searcher, but every search takes a second."""

    def __init__(self, inner: Searcher):
        self.inner = inner

    def search(self, *args, **kwargs):
        time.sleep(1.0)
        return self.inner.search(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


class BrokenSearcher(SlowSearcher):
    def search(self, *args, **kwargs):
        raise RuntimeError("secret internal detail")


def test_a_search_over_the_time_limit_is_504(sample_index: Path, settings: Settings, searcher: Searcher) -> None:
    app = create_app(sample_index, settings.model_copy(update={"request_timeout_s": 0.2}), SlowSearcher(searcher))
    with client_for(app) as c:
        started = time.monotonic()
        assert_error(c.get("/search", params={"q": "รัฐบาล"}), 504, "0.2")
        assert time.monotonic() - started < 0.9, "the answer waited for the slow search"
        assert c.get("/stats").status_code == 200


def test_an_unexpected_error_is_a_bare_500_and_is_logged(
    sample_index: Path, settings: Settings, searcher: Searcher, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="thaigov_search.api"), \
            client_for(create_app(sample_index, settings, BrokenSearcher(searcher))) as c:
        response = c.get("/search", params={"q": "รัฐบาล"})
        detail = assert_error(response, 500, "internal")
        assert "secret internal detail" not in detail
        assert c.get("/health").status_code == 200  # the server lives on
    assert any(r.name.startswith("thaigov_search.api.") and r.exc_info for r in caplog.records)


# ------------------------------------------------------------------------------------- CORS
def test_cors_allows_only_configured_origins(client: httpx.Client) -> None:
    allowed = client.get("/search", params={"q": "รัฐบาล", "k": 1}, headers={"Origin": PORTAL})
    assert allowed.headers["access-control-allow-origin"] == PORTAL
    other = client.get("/search", params={"q": "รัฐบาล", "k": 1}, headers={"Origin": "http://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    same_origin = client.get("/stats")
    assert "access-control-allow-origin" not in same_origin.headers


def test_cors_preflight_for_a_configured_origin(client: httpx.Client) -> None:
    headers = {"Origin": PORTAL, "Access-Control-Request-Method": "GET"}
    ok = client.options("/search", headers=headers)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == PORTAL
    refused = client.options("/search", headers=headers | {"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in refused.headers


def test_error_answers_carry_cors_headers_for_configured_origins(client: httpx.Client) -> None:
    response = client.get("/search", params={"q": ""}, headers={"Origin": PORTAL})
    assert response.status_code == 422 and response.headers["access-control-allow-origin"] == PORTAL


def test_no_origin_is_allowed_by_default(sample_index: Path, settings: Settings, searcher: Searcher) -> None:
    assert Settings().cors_origins == []
    with client_for(create_app(sample_index, settings.model_copy(update={"cors_origins": []}), searcher)) as c:
        response = c.get("/stats", headers={"Origin": PORTAL})
        assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


# --------------------------------------------------------------------------- page, docs, widget
def test_page_widget_and_docs_are_served(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="th">' in page.text and "/static/app.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    widget = client.get("/widget.js")
    assert widget.status_code == 200 and "javascript" in widget.headers["content-type"]
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search", "/documents", "/documents/{doc_id}", "/documents/{doc_id}/similar", "/categories", "/stats",
            "/health"} <= set(paths)


# ------------------------------------------------------------------------------------ writes
def test_writes_are_forbidden_when_no_api_key_is_configured(client: httpx.Client) -> None:
    assert_error(client.post("/documents", json=NEW_ARTICLE, headers={"X-API-Key": "anything"}), 403, "disabled")
    assert_error(client.delete(f"/documents/{EGOV_FORUM}", headers={"X-API-Key": "anything"}), 403, "disabled")
    assert client.get(f"/documents/{EGOV_FORUM}").status_code == 200


def test_writes_without_a_key_are_401_and_with_a_wrong_key_403(writer: httpx.Client) -> None:
    response = writer.post("/documents", json=NEW_ARTICLE)
    assert_error(response, 401, "X-API-Key")
    assert "www-authenticate" in response.headers
    assert_error(writer.post("/documents", json=NEW_ARTICLE, headers={"X-API-Key": API_KEY + "x"}), 403, "not valid")
    assert_error(writer.delete(f"/documents/{EGOV_FORUM}"), 401)
    assert_error(writer.delete(f"/documents/{EGOV_FORUM}", headers={"X-API-Key": "wrong"}), 403)
    assert writer.get(f"/documents/{EGOV_FORUM}").status_code == 200
    assert_error(writer.get(f"/documents/{NEW_ARTICLE['id']}"), 404)


def test_auth_is_checked_before_the_body(writer: httpx.Client) -> None:
    assert_error(writer.post("/documents", content=b"{not json", headers={"Content-Type": "application/json"}), 401)


def test_posted_thai_article_is_searchable_then_deleted(writer: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    key = {"X-API-Key": API_KEY}
    with caplog.at_level(logging.DEBUG):
        added = writer.post("/documents", json=NEW_ARTICLE, headers=key).raise_for_status().json()
    assert added["indexed"] == 1 and added["unchanged"] == 0 and added["ids"] == [NEW_ARTICLE["id"]]
    assert API_KEY not in caplog.text

    for mode in ("lexical", "hybrid", "dense"):
        found = writer.get("/search", params={"q": "ระบบน้ำประปาพลังงานแสงอาทิตย์ จังหวัดน่าน", "mode": mode, "k": 3}).json()
        assert found["results"][0]["id"] == NEW_ARTICLE["id"], (mode, found)
    doc = writer.get(f"/documents/{NEW_ARTICLE['id']}").json()
    assert doc["title"] == NEW_ARTICLE["title"] and doc["date"] == "2024-03-15" and doc["language"] == "th"

    again = writer.post("/documents", json=NEW_ARTICLE, headers=key).json()
    assert again["indexed"] == 0 and again["unchanged"] == 1

    deleted = writer.delete(f"/documents/{NEW_ARTICLE['id']}", headers=key).raise_for_status().json()
    assert deleted["deleted"] == 1
    assert_error(writer.get(f"/documents/{NEW_ARTICLE['id']}"), 404)
    after = writer.get("/search", params={"q": "ระบบน้ำประปาพลังงานแสงอาทิตย์ จังหวัดน่าน", "k": 10}).json()
    assert NEW_ARTICLE["id"] not in [r["id"] for r in after["results"]]
    assert_error(writer.delete(f"/documents/{NEW_ARTICLE['id']}", headers=key), 404, "nothing deleted")


def test_a_list_of_articles_is_indexed_and_replacing_one_updates_it(writer: httpx.Client) -> None:
    key = {"X-API-Key": API_KEY}
    second = NEW_ARTICLE | {"id": "moi-test-0002", "title": "Digital ID pilot opens in Nan province",
                            "body": "The Ministry of Interior opened a digital identity pilot for hill villages.",
                            "date": "15 มีนาคม 2567"}
    report = writer.post("/documents", json=[NEW_ARTICLE, second], headers=key).raise_for_status().json()
    assert report["indexed"] == 2 and report["ids"] == ["moi-test-0001", "moi-test-0002"]
    doc = writer.get("/documents/moi-test-0002").json()
    assert doc["date"] == "2024-03-15" and doc["language"] == "en"

    changed = writer.post("/documents", json=second | {"title": "Digital ID pilot extended to Phrae"}, headers=key).json()
    assert changed["indexed"] == 1
    assert writer.get("/documents/moi-test-0002").json()["title"] == "Digital ID pilot extended to Phrae"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (NEW_ARTICLE | {"title": "   "}, ["title", "empty"]),
        (NEW_ARTICLE | {"body": ""}, ["body"]),
        ({k: v for k, v in NEW_ARTICLE.items() if k != "body"}, ["body", "required"]),
        (NEW_ARTICLE | {"date": "2018-02-30"}, ["date"]),
        (NEW_ARTICLE | {"date": "เมื่อวานนี้"}, ["date"]),
        (NEW_ARTICLE | {"id": "bad id/1"}, ["id", "pattern"]),
        (NEW_ARTICLE | {"url": "javascript:alert(1)"}, ["url", "http"]),
        (NEW_ARTICLE | {"titel": "typo"}, ["titel"]),
        (NEW_ARTICLE | {"title": "a\x00b"}, ["title", "control"]),
        ([NEW_ARTICLE, NEW_ARTICLE], ["more than once"]),
        ([], ["empty"]),
        ("just a string", ["object"]),
    ],
    ids=["blank-title", "empty-body", "missing-body", "impossible-date", "not-a-date", "bad-id", "script-url",
         "unknown-field", "control-char", "duplicate-ids", "empty-list", "not-an-object"],
)
def test_invalid_articles_are_422_with_a_reason(writer: httpx.Client, body, words: list[str]) -> None:
    assert_error(writer.post("/documents", json=body, headers={"X-API-Key": API_KEY}), 422, *words)
    assert_error(writer.get(f"/documents/{NEW_ARTICLE['id']}"), 404)


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"{not json", ["JSON"]), (b'{"id": "x", ', ["JSON"]), (b"\xff\xfe{}", ["UTF-8"]), (b"", ["JSON"])],
    ids=["garbage", "truncated", "invalid-utf8", "empty"],
)
def test_malformed_json_bodies_are_400(writer: httpx.Client, content: bytes, words: list[str]) -> None:
    headers = {"X-API-Key": API_KEY, "Content-Type": "application/json"}
    assert_error(writer.post("/documents", content=content, headers=headers), 400, *words)


def test_oversized_bodies_are_413_by_content_length(writer: httpx.Client) -> None:
    big = NEW_ARTICLE | {"body": "ข่าว" * 30_000}
    assert_error(writer.post("/documents", json=big, headers={"X-API-Key": API_KEY}), 413, "limit")


def test_oversized_streamed_bodies_are_413(writer: httpx.Client) -> None:
    def chunks():  # no Content-Length: chunked transfer encoding
        yield b'{"id": "x", "title": "t", "body": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'"}'

    response = writer.post("/documents", content=chunks(), headers={"X-API-Key": API_KEY, "Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "limit")
