"""Search analytics: recorded by a real server, reported by the CLI and the admin route, bounded, never in the way."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_api import API_KEY, client_for
from thaigov_search import cli
from thaigov_search.api.app import create_app
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher
from thaigov_search.store.analytics import ANALYTICS_NAME, AnalyticsStore, SearchRecord, analytics_path

USER_AGENT = "citizen-browser/1.0 (personal)"
NOTHING = "ซซซซฮฮฮฮ"  # no release has this word: a lexical search finds nothing


@pytest.fixture()
def server(writable_index: Path, settings: Settings, embedder) -> Iterator[httpx.Client]:
    app_settings = settings.model_copy(update={"api_key": API_KEY, "analytics": True, "analytics_db": None})
    searcher = Searcher(writable_index, app_settings, embedder=embedder)
    with client_for(create_app(writable_index, app_settings, searcher)) as c:
        c.headers["User-Agent"] = USER_AGENT
        yield c


def admin(client: httpx.Client, **params: str) -> dict:
    return client.get("/admin/analytics", params=params, headers={"X-API-Key": API_KEY}).raise_for_status().json()


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    assert cli.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_searches_are_reported_by_the_admin_route_and_the_command(server: httpx.Client, writable_index: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    for params in ({"q": "การประชุมรัฐบาลดิจิทัล"}, {"q": "  การประชุมรัฐบาลดิจิทัล "},
                   {"q": "การประชุมรัฐบาลดิจิทัล", "category": "ด้านเศรษฐกิจ"},
                   {"q": "Digital Government"}, {"q": "digital   government"}, {"q": "digital government"},
                   {"q": NOTHING, "mode": "lexical"}, {"q": NOTHING, "mode": "lexical"}, {"q": "eGovernment"}):
        server.get("/search", params=params).raise_for_status()
    server.get("/feed.atom", params={"q": "not counted"}).raise_for_status()  # feed polls are not searches
    report = admin(server)
    assert report["searches"] == 9
    assert report["top_queries"][:3] == [{"query": "digital government", "count": 3},  # ties: by text
                                         {"query": "การประชุมรัฐบาลดิจิทัล", "count": 3},
                                         {"query": NOTHING.casefold(), "count": 2}]
    assert report["zero_result_queries"] == [{"query": NOTHING, "count": 2}]
    assert admin(server, limit="1")["top_queries"] == report["top_queries"][:1]

    assert run_cli(capsys, "analytics", "--index-dir", str(writable_index), "--json") == report
    today = dt.date.today()
    assert run_cli(capsys, "analytics", "--index-dir", str(writable_index), "--since", today.isoformat(), "--json") == report
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert run_cli(capsys, "analytics", "--index-dir", str(writable_index), "--since", tomorrow, "--json") == {
        "top_queries": [], "zero_result_queries": [], "searches": 0}


def test_a_record_holds_the_search_and_nothing_about_who_asked(server: httpx.Client, writable_index: Path) -> None:
    server.get("/search", params={"q": "eGovernment Forum", "category": "ด้านเศรษฐกิจ", "date_from": "2018-01-01",
                                  "mode": "dense"}).raise_for_status()
    admin(server)  # flushes the queue
    path = writable_index / ANALYTICS_NAME
    store = AnalyticsStore(path, readonly=True)
    try:
        [record] = store.recent()
    finally:
        store.close()
    assert set(record) == {"at", "query", "mode", "filters", "results", "latency_ms"}
    assert record["query"] == "eGovernment Forum" and record["mode"] == "dense"
    assert record["filters"] == {"category": "ด้านเศรษฐกิจ", "date_from": "2018-01-01"}
    assert record["results"] > 0 and record["latency_ms"] > 0
    assert dt.datetime.fromisoformat(record["at"]).date() == dt.date.today()
    stored = b"".join(p.read_bytes() for p in writable_index.glob(f"{ANALYTICS_NAME}*"))
    assert b"127.0.0.1" not in stored and USER_AGENT.encode() not in stored


def test_the_admin_route_needs_the_api_key(server: httpx.Client) -> None:
    assert server.get("/admin/analytics").status_code == 401
    assert server.get("/admin/analytics", headers={"X-API-Key": "wrong"}).status_code == 403
    response = server.get("/admin/analytics", params={"since": "yesterday"}, headers={"X-API-Key": API_KEY})
    assert response.status_code == 422 and "YYYY-MM-DD" in response.json()["detail"]


def test_storage_is_bounded_by_age_and_rows(tmp_path: Path) -> None:
    store = AnalyticsStore(tmp_path / ANALYTICS_NAME)
    today = dt.date(2024, 10, 1)

    def at(days_ago: int) -> dt.datetime:
        return dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(9, 30)).astimezone()

    store.add([SearchRecord(at(d), f"query {d}", "hybrid", 1, 10.0) for d in (0, 5, 20, 60)])
    assert store.report()["searches"] == 4
    assert store.report(since=today - dt.timedelta(days=7))["searches"] == 2
    removed = store.prune(raw_days=7, days=30, today=today)
    assert removed == 2 + 1  # single records of days 20 and 60, the day count of day 60
    assert [r["query"] for r in store.recent()] == ["query 5", "query 0"]
    assert {q["query"] for q in store.report()["top_queries"]} == {"query 0", "query 5", "query 20"}
    store.add([SearchRecord(at(0), "more", "hybrid", 1, 1.0) for _ in range(10)])
    store.prune(raw_days=7, days=30, today=today, max_raw_rows=5)
    assert len(store.recent(1000)) == 5
    assert store.report()["searches"] == 3 + 10  # the day counts keep everything within their period
    store.close()


def test_a_symlinked_index_keeps_its_analytics_beside_the_link(tmp_path: Path) -> None:
    (tmp_path / "index-1").mkdir()
    (tmp_path / "current").symlink_to(tmp_path / "index-1")
    assert analytics_path(tmp_path / "current") == tmp_path / "current.analytics.sqlite"
    assert analytics_path(tmp_path / "index-1") == tmp_path / "index-1" / ANALYTICS_NAME
    assert analytics_path(tmp_path / "current", tmp_path / "a.sqlite") == tmp_path / "a.sqlite"


def test_an_unwritable_analytics_file_never_fails_a_search(writable_index: Path, settings: Settings, embedder,
                                                           tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    broken = settings.model_copy(update={"analytics": True, "analytics_db": blocker / "analytics.sqlite"})
    with caplog.at_level(logging.WARNING), \
            client_for(create_app(writable_index, broken, Searcher(writable_index, broken, embedder=embedder))) as c:
        for _ in range(3):
            assert c.get("/search", params={"q": "รัฐบาล", "mode": "lexical"}).status_code == 200
    warnings = [r for r in caplog.records if "analytics" in r.getMessage()]
    assert len(warnings) == 1, "one warning per kind of failure, not one per search"
    assert "searches are not affected" in warnings[0].getMessage()


def test_a_locked_analytics_file_does_not_hold_up_searches(server: httpx.Client, writable_index: Path) -> None:
    server.get("/search", params={"q": "รัฐบาล", "mode": "lexical"}).raise_for_status()
    admin(server)
    lock = sqlite3.connect(writable_index / ANALYTICS_NAME, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # another process holds the file: the writer thread has to wait
    try:
        for _ in range(5):
            assert server.get("/search", params={"q": "ทำเนียบรัฐบาล", "mode": "lexical"}).status_code == 200
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert admin(server)["searches"] == 6  # nothing lost: written once the lock went
