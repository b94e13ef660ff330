"""Hostile input against a real server: schemathesis fuzzing from the OpenAPI schema, plus explicit attacks.

Property: whatever a client sends -- valid or not, per the published schema or far outside it --
the answer is a correct result or a 4xx with a JSON reason, never a 5xx; ids never reach the file
system; SQL/FTS syntax in queries is literal text.

The server runs over a private copy of the sample index with writes enabled (an API key), so POST and
DELETE are fuzzed too (with the key; the key checks themselves are in test_api.py/test_reliability.py).
"""

from __future__ import annotations

import http.client
import json
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.test_api import running
from thaigov_search.api.app import create_app
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher

API_KEY = "fuzz-key-6b1f0c"
MAX_BODY = 64 * 1024
FUZZ_EXAMPLES = 40

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def fuzz_index(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("fuzz") / "index"
    shutil.copytree(sample_index, target)
    return target


@pytest.fixture(scope="module")
def base_url(fuzz_index: Path, settings: Settings, embedder) -> Iterator[str]:
    app_settings = settings.model_copy(update={"api_key": API_KEY, "max_body_bytes": MAX_BODY,
                                               "max_passages_per_article": 1, "cors_origins": []})
    app = create_app(fuzz_index, app_settings, Searcher(fuzz_index, app_settings, embedder=embedder))
    with running(app) as base:
        yield base


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        yield c


# ------------------------------------------------------------------------------ schemathesis
def published_schema() -> dict:
    """The OpenAPI document the server publishes at /openapi.json (built by the same app code).

    Loaded at import time so that ``@schema.parametrize()`` makes one test per operation; the lazy
    ``schemathesis.pytest.from_fixture`` loader fails on pytest 9 (it sets ``node._nodeid``).
    test_the_fuzzed_schema_is_the_served_one checks that it equals the served document.
    """
    app = create_app(Path("unused-index"), Settings(api_key="unused"), searcher=None)
    return app.openapi()


schema = schemathesis.openapi.from_dict(published_schema())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=FUZZ_EXAMPLES)


def test_the_fuzzed_schema_is_the_served_one(client: httpx.Client) -> None:
    assert client.get("/openapi.json").json() == published_schema()


STATUSES: dict[str, Counter] = {}  # operation -> status counts of the fuzzed calls


@schema.parametrize()
@hypothesis_settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                     suppress_health_check=list(HealthCheck), derandomize=True)
def test_fuzzed_requests_never_get_a_server_error(case, base_url: str) -> None:
    """Positive and negative examples for every operation of /openapi.json: no 5xx, JSON errors."""
    response = case.call(base_url=base_url, headers={"X-API-Key": API_KEY}, timeout=60)
    STATUSES.setdefault(f"{case.method} {case.path}", Counter())[response.status_code] += 1
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:300])
    if response.status_code >= 400 and response.status_code != 405:
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail and "Traceback" not in response.text


def test_fuzzing_reached_valid_and_invalid_requests() -> None:
    """The fuzzing above was not all rejected at the door: searches and writes succeeded and failed."""
    if not STATUSES:
        pytest.skip("run together with test_fuzzed_requests_never_get_a_server_error")
    print({op: dict(c) for op, c in STATUSES.items()})
    search = STATUSES.get("GET /search", Counter())
    assert search[200] > 0 and search[422] > 0, search
    posts = STATUSES.get("POST /documents", Counter())
    assert sum(posts.values()) > 0 and any(400 <= s < 500 for s in posts), posts


# ------------------------------------------------------------------------- queries as attacks
HOSTILE_QUERIES = {
    # SQL and FTS5 syntax: must be literal text, never an error or a changed query
    "sql-or": '" OR 1=1 --',
    "sql-drop": "'; DROP TABLE articles; --",
    "sql-union": "x' UNION SELECT id, body FROM articles --",
    "fts-near": "NEAR(",
    "fts-near-full": "NEAR(รัฐบาล ประชุม, 2)",
    "fts-star": "*",
    "fts-prefix": "รัฐ*",
    "fts-caret": "^",
    "fts-column": "title:",
    "fts-column-value": "title:รัฐบาล body:x",
    "fts-quote": '"',
    "fts-quotes": '"" """',
    "fts-boolean": "AND OR NOT",
    "fts-parens": "((()",
    "fts-braces": "{title body}: x",
    "fts-plus-minus": "+x -y",
    "fts-match": "lexical MATCH 'x'",
    # regex metacharacters
    "regex-any": ".*",
    "regex-alt": "(a|b)+$",
    "regex-class": "[",
    "regex-backslash": "\\",
    "regex-flags": "(?i)(?P<x>x)\\1",
    "regex-repeat": "\\d{1,3}[^\\w]",
    "like-wildcards": "%_%",
    "format-string": "%s %d {0} {q!r} ${HOME}",
    "html": "<script>alert(1)</script>",
    # Thai and other scripts, long and odd
    "thai-no-spaces-1000": ("ข่าวการประชุมคณะรัฐมนตรีเรื่องการพัฒนาเศรษฐกิจดิจิทัล" * 30)[:1000],
    "thai-one-char-1000": "ก" * 1000,
    "thai-marks-only": "\u0e48\u0e49\u0e4a" * 100,
    "mixed-scripts": "รัฐบาล government 政府 حكومة правительство ΚΥΒΕΡΝΗΣΗ 🇹🇭👍",
    "emoji-1000": "\U0001F600" * 1000,
    "combining-300": "e\u0301" * 300,
    "zero-width-only": "\u200b\u200c\u200d\u2060\ufeff",
    "zero-width-inside": "รัฐ\u200bบาล\u200cประ\u200dชุม",
    "bidi-override": "\u202eรัฐบาล\u202c",
    "soft-hyphen": "gov\u00adern\u00adment",
    "line-separator": "รัฐบาล\u2028ประชุม\u2029",
    "ideographic-space": "\u3000รัฐบาล\u3000",
    "private-use": "\ue000\uf8ff",
    "noncharacter": "\ufffe\uffff",
    "replacement-char": "\ufffd" * 10,
}


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize("query", list(HOSTILE_QUERIES.values()), ids=list(HOSTILE_QUERIES))
def test_hostile_queries_are_answered_as_text(client: httpx.Client, query: str, mode: str) -> None:
    response = client.get("/search", params={"q": query, "mode": mode, "k": 100})
    assert response.status_code == 200, response.text[:300]
    data = response.json()
    assert data["query"] == query.strip()
    assert data["total"] >= len(data["results"])
    ids = [r["id"] for r in data["results"]]
    assert len(ids) == len(set(ids))
    for r in data["results"]:  # snippets stay HTML-safe whatever the query
        assert "<script" not in r["snippet"]


def test_sql_in_queries_changes_nothing(client: httpx.Client) -> None:
    before = client.get("/stats").json()
    for query in ("'; DROP TABLE articles; --", '"); DELETE FROM lexical; --', "x'; UPDATE meta SET value='0'; --"):
        assert client.get("/search", params={"q": query, "mode": "lexical"}).status_code == 200
    assert client.get("/stats").json()["articles"] == before["articles"]
    assert client.get("/categories").status_code == 200


def test_fts_syntax_is_literal(client: httpx.Client) -> None:
    """`รัฐ*` is not a prefix query and `title:` no column filter: they find what the plain words find."""
    plain = client.get("/search", params={"q": "รัฐบาล", "mode": "lexical", "k": 100}).json()
    as_column = client.get("/search", params={"q": "title:รัฐบาล", "mode": "lexical", "k": 100}).json()
    assert plain["total"] > 0
    assert {r["id"] for r in as_column["results"]} >= {r["id"] for r in plain["results"]}
    star = client.get("/search", params={"q": "*", "mode": "lexical"}).json()
    assert star["total"] == 0  # not "match everything"


@pytest.mark.parametrize(
    ("raw_q", "status"),
    [
        ("a%7Fb", 422),  # DEL
        ("a%C2%85b", 422),  # NEL (C1 control)
        ("a%C2%9Bb", 422),  # CSI (C1 control)
        ("%ED%A0%80", 400),  # a lone surrogate, UTF-8-encoded: not valid UTF-8
        ("%F4%90%80%80", 400),  # beyond U+10FFFF
        ("%C0%AF", 400),  # overlong encoding of '/'
        ("%", 422),  # a bare percent: taken literally, a one-character query -> 200 or 422 but not 5xx
    ],
    ids=["del", "nel", "csi", "surrogate", "beyond-unicode", "overlong", "bare-percent"],
)
def test_undecodable_or_control_queries_are_4xx(client: httpx.Client, raw_q: str, status: int) -> None:
    response = client.get(f"/search?q={raw_q}")
    if raw_q == "%":
        assert response.status_code in (200, 400, 422), response.text
        return
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_query_length_is_counted_in_characters_not_bytes(client: httpx.Client) -> None:
    thai = ("การประชุมคณะรัฐมนตรี" * 60)[:1000]  # 1000 characters, ~3000 UTF-8 bytes
    assert client.get("/search", params={"q": thai, "k": 1}).status_code == 200
    too_long = client.get("/search", params={"q": thai + "ก"})
    assert too_long.status_code == 422 and "1001" in too_long.json()["detail"]


def test_very_long_urls_are_refused_cleanly(base_url: str) -> None:
    q = quote("ก" * 20_000)  # 180 KB of URL
    status, body = raw_request(base_url, "GET", f"/search?q={q}")
    assert 400 <= status < 500 or status == 0, (status, body[:200])


@pytest.mark.parametrize("params", [
    {"q": "x", "k": "1e3"}, {"q": "x", "k": "9" * 40}, {"q": "x", "k": "-0"}, {"q": "x", "offset": "9" * 40},
    {"q": "x", "mode": "HYBRID"}, {"q": "x", "date_from": "9999-99-99"}, {"q": "x", "date_from": "0000-01-01"},
    {"q": "x", "date_to": "2018-02-29"}, {"q": "x", "category": "x" * 201}, {"q": ["a", "b"]},
], ids=["k-float", "k-huge", "k-minus-zero", "offset-huge", "mode-case", "date-garbage", "date-year-zero",
        "date-not-leap", "category-long", "q-twice"])
def test_odd_parameters_are_4xx_or_answered(client: httpx.Client, params: dict) -> None:
    response = client.get("/search", params=params)
    assert response.status_code in (200, 422), response.text[:300]


# ------------------------------------------------------------------------- ids and the file system
def raw_request(base_url: str, method: str, target: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str]:
    """Send the request target byte for byte (no client-side normalisation of `..` or `%2e`)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    except (ConnectionError, http.client.HTTPException):
        return 0, ""
    finally:
        conn.close()


TRAVERSALS = [
    "/documents/../../etc/passwd",
    "/documents/..%2F..%2F..%2Fetc%2Fpasswd",
    "/documents/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/documents/%2E%2E/%2E%2E/etc/passwd",
    "/documents/%252e%252e%252fetc%252fpasswd",
    "/documents/..%5c..%5cwindows%5cwin.ini",
    "/documents/%c0%ae%c0%ae%c0%afetc%c0%afpasswd",
    "/documents/..%00/etc/passwd",
    "/documents/....//....//etc/passwd",
    "/documents/%2e%2e",
    "/documents/..",
    "/documents/file:%2F%2F%2Fetc%2Fpasswd",
    "/documents/..%2F..%2Fetc%2Fpasswd/similar",
    "/static/../../../../etc/passwd",
    "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/%2e%2e%2fapp.py",
    "/static/..%2fapp.py",
    "/static/..%5capp.py",
    "/static//etc/passwd",
    "/static/%2Fetc%2Fpasswd",
    "//etc/passwd",
    "/widget.js/../../app.py",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_ids_and_paths_never_reach_the_file_system(base_url: str, target: str) -> None:
    status, body = raw_request(base_url, "GET", target)
    assert status < 500, (status, body[:300])
    assert "root:" not in body and "[fonts]" not in body and "import " not in body, body[:300]
    if target.startswith("/documents/"):
        assert status in (400, 404, 422), (status, body[:200])


@pytest.mark.parametrize("target", [t for t in TRAVERSALS if t.startswith("/documents/")][:8])
def test_delete_with_traversal_ids_deletes_nothing(base_url: str, client: httpx.Client, target: str) -> None:
    before = client.get("/stats").json()["articles"]
    status, body = raw_request(base_url, "DELETE", target, headers={"X-API-Key": API_KEY})
    assert status in (400, 404, 405, 422), (status, body[:200])
    assert client.get("/stats").json()["articles"] == before


# ---------------------------------------------------------------------------- hostile bodies
WRITE = {"X-API-Key": API_KEY, "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"[" * 20_000 + b"]" * 20_000, 400),  # deeper than the JSON parser's recursion limit
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 400),
        (b'{"id": ' + b"9" * 5000 + b', "title": "t", "body": "b"}', 400),  # int over Python's 4300 digits
        (b'{"id": "x", "title": "\\ud800", "body": "b"}', 422),  # lone surrogate escape
        (b'{"id": "x", "title": "t", "body": "\\udfff"}', 422),
        (b'{"id": NaN, "title": "t", "body": "b"}', 422),
        (b'{"id": "x", "title": Infinity, "body": "b"}', 422),
        (b'{"id": "x", "title": "t", "body": "b", "id": "../../etc/passwd"}', 422),  # duplicate key, last wins
        (b'\xef\xbb\xbf{"id": "x", "title": "t", "body": "b"}', 400),  # UTF-8 BOM
        ('{"id": "x", "title": "t", "body": "b"}'.encode("utf-16"), 400),
        (b'{"id": "x", "title": "t", "body": "b"} trailing', 400),
        (b"null", 422),
        (b"true", 422),
        (b"12", 422),
        (b'"string"', 422),
        (b"[[]]", 422),
        (b"[null]", 422),
        (b'{"id": ["x"], "title": "t", "body": "b"}', 422),
        (b'{"id": "x", "title": {"$gt": ""}, "body": "b"}', 422),
        (b'{"id": "x", "title": "t", "body": "b", "__proto__": {}}', 422),
        (b'{"id": "\\u0000", "title": "t", "body": "b"}', 422),
        (b'{"id": "' + b"a" * 201 + b'", "title": "t", "body": "b"}', 422),
        (b'{"id": "x", "title": "t", "body": "b", "language": "../../th"}', 422),
        (b"\x00\x01\x02", 400),
        (b"{" + b" " * 60_000 + b"}", 422),
    ],
    ids=["deep-array", "deep-object", "huge-int", "surrogate-title", "surrogate-body", "nan", "infinity", "dup-key",
         "bom", "utf16", "trailing", "null", "true", "number", "string", "nested-empty", "list-of-null", "id-list",
         "operator-object", "proto", "nul-id", "long-id", "bad-language", "binary", "whitespace"],
)
def test_hostile_json_bodies_are_4xx(base_url: str, content: bytes, status: int) -> None:
    got, body = raw_request(base_url, "POST", "/documents", content, WRITE)
    assert got == status, (got, body[:300])
    assert json.loads(body)["detail"]


def test_a_list_over_the_body_limit_is_413(client: httpx.Client) -> None:
    docs = [{"id": f"bulk-{i}", "title": "t", "body": "ข่าว" * 50} for i in range(400)]  # ~100 KB
    response = client.post("/documents", json=docs, headers={"X-API-Key": API_KEY})
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    assert client.get("/documents/bulk-0").status_code == 404


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "99999999999999999999", "5, 5"])
def test_malformed_content_length_is_a_4xx(base_url: str, length: str) -> None:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("POST", "/documents")
        conn.putheader("X-API-Key", API_KEY)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", length)
        conn.endheaders(b"{}")
        status = conn.getresponse().status
    except (ConnectionError, http.client.HTTPException):
        status = 0  # the HTTP parser closed the connection: refused, not a crash
    finally:
        conn.close()
    assert status == 0 or 400 <= status < 500, status


def test_the_server_is_healthy_after_all_this(client: httpx.Client) -> None:
    time.sleep(0.1)
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/search", params={"q": "รัฐบาล", "k": 3}).status_code == 200
