"""Per-client rate limiting: a real load generator (threads of HTTP clients) against a real server on loopback."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_api import running
from thaigov_search.api.app import create_app
from thaigov_search.api.rate_limit import TokenBuckets, default_burst
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher

RATE = 4.0  # requests per second per client
BURST = 8


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_the_burst_then_the_rate_and_says_how_long_to_wait() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token comes back every 0.5 s
    assert buckets.take("b") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    clock.now += 60  # an idle client's bucket refills to the burst, no further
    assert [buckets.take("a") for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(0.5)]


def test_the_buckets_forget_the_least_recently_seen_clients_beyond_the_cap() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_clients=100, clock=Clock())
    for n in range(1000):
        buckets.take(f"10.0.{n // 256}.{n % 256}")
    assert len(buckets) == 100


def test_unset_burst_is_two_seconds_of_the_rate() -> None:
    assert default_burst(20) == 40 and default_burst(0.2) == 1


@pytest.fixture(scope="module")
def limited(sample_index: Path, settings: Settings, embedder) -> Iterator[str]:
    app_settings = settings.model_copy(update={"rate_limit_per_s": RATE, "rate_limit_burst": BURST, "api_key": None,
                                               "cors_origins": ["http://portal.example.go.th"]})
    with running(create_app(sample_index, app_settings, Searcher(sample_index, app_settings, embedder=embedder))) as url:
        yield url


def load(url: str, path: str, threads: int, per_thread: int, source: str = "127.0.0.1") -> list[httpx.Response]:
    """The load generator: ``threads`` clients, each sending ``per_thread`` requests back to back."""
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def client() -> None:
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(base_url=url, transport=transport, timeout=30) as c:
            for _ in range(per_thread):
                response = c.get(path)
                with lock:
                    answers.append(response)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return answers


def test_a_client_over_the_limit_gets_429_with_retry_after_and_then_gets_through(limited: str) -> None:
    time.sleep(BURST / RATE)  # a full bucket, whatever ran before
    started = time.monotonic()
    answers = load(limited, "/categories", threads=4, per_thread=15)
    elapsed = time.monotonic() - started
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) == {200, 429}, statuses
    # the burst goes through, then about RATE a second; never more than the bucket can hold
    assert BURST <= statuses[200] <= BURST + RATE * elapsed + 1, (statuses, elapsed)
    for refused in (r for r in answers if r.status_code == 429):
        assert refused.headers["content-type"] == "application/json"
        assert "too many requests" in refused.json()["detail"]
        assert 1 <= int(refused.headers["retry-after"]) <= 1 + 1 / RATE
    wait = max(int(r.headers["retry-after"]) for r in answers if r.status_code == 429)
    # health checks and the page are never refused, even now
    assert httpx.get(f"{limited}/health").status_code == 200
    assert httpx.get(f"{limited}/").status_code == 200
    time.sleep(wait)
    assert httpx.get(f"{limited}/categories").status_code == 200


def test_each_client_address_has_its_own_limit(limited: str) -> None:
    time.sleep(BURST / RATE)
    first = Counter(r.status_code for r in load(limited, "/stats", threads=2, per_thread=2 * BURST))
    assert first[429] > 0
    # another address on loopback (Linux routes all of 127/8 to lo) starts with a full bucket
    other = Counter(r.status_code for r in load(limited, "/stats", threads=1, per_thread=BURST // 2, source="127.0.0.2"))
    assert other == {200: BURST // 2}


def test_a_refusal_carries_cors_headers_so_the_widget_can_read_it(limited: str) -> None:
    time.sleep(BURST / RATE)
    with httpx.Client(base_url=limited, headers={"Origin": "http://portal.example.go.th"}) as c:
        answers = [c.get("/stats") for _ in range(BURST + 2)]
    refused = [r for r in answers if r.status_code == 429]
    assert refused
    assert refused[0].headers["access-control-allow-origin"] == "http://portal.example.go.th"
    assert "retry-after" in refused[0].headers["access-control-expose-headers"].lower()


def test_without_the_setting_nobody_is_limited(sample_index: Path, settings: Settings, embedder) -> None:
    assert settings.rate_limit_per_s is None
    with running(create_app(sample_index, settings, Searcher(sample_index, settings, embedder=embedder))) as url:
        statuses = Counter(r.status_code for r in load(url, "/stats", threads=4, per_thread=25))
    assert statuses == {200: 100}
