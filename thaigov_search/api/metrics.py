"""Prometheus metrics (``GET /metrics``, text format), on when ``THAIGOV_SEARCH_METRICS=true``.

Per route (the route's template, ``/documents/{doc_id}``, never the raw path, so an id or a 404
probe cannot create new series): requests by method and status, latency histograms, server errors
(5xx) and refusals by the rate limiter. For the index, read when Prometheus scrapes: articles,
passages, database generation, when the reader last caught up with a write (or loaded), when the
served snapshot was built, and whether the index is loaded. For the model: a histogram of query
embedding time. Also the analytics records dropped, and the process's CPU, memory and file
descriptors (prometheus_client's standard collectors).

Each app has its own registry (several apps in one process, as in the tests, do not share counts).
With ``THAIGOV_SEARCH_METRICS_KEY`` set, /metrics asks for ``Authorization: Bearer <key>`` (what
Prometheus sends with ``authorization: {credentials: ...}``) or ``X-API-Key``; without it, put
/metrics behind the reverse proxy's access rules (docs/deploy.md).
"""

import datetime as dt
import hmac
import time
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thaigov_search.core.settings import Settings

PREFIX = "thaigov_search"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds; hybrid queries take 20 ms (p50) on the full corpus on 2 cores (docs/performance.md)."""
EMBEDDING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
UNMATCHED = "unmatched"


class ServiceMetrics:
    """The registry of one service and the instruments the middleware and hooks update."""

    def __init__(self, state: Any):
        self.registry = CollectorRegistry()
        self.requests = Counter(f"{PREFIX}_http_requests", "HTTP requests answered, by route template, method and status.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram(f"{PREFIX}_http_request_duration_seconds", "Time to answer, by route template.",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.errors = Counter(f"{PREFIX}_http_errors", "Server errors (status 5xx), by route template.",
                              ["route"], registry=self.registry)
        self.rate_limited = Counter(f"{PREFIX}_rate_limited", "Requests refused with 429 by the per-client limit.",
                                    registry=self.registry)
        self.embedding = Histogram(f"{PREFIX}_query_embedding_seconds", "Time to embed one query.",
                                   buckets=EMBEDDING_BUCKETS, registry=self.registry)
        self.analytics_dropped = Counter(f"{PREFIX}_analytics_dropped",
                                         "Search records not written to the analytics file (queue full or disk error).",
                                         registry=self.registry)
        self.registry.register(IndexCollector(state))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def observe_embedding(self, seconds: float) -> None:
        self.embedding.observe(seconds)


def timestamp(text: str | None) -> float:
    try:
        stamp = dt.datetime.fromisoformat(text or "")
    except ValueError:
        return 0.0
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)).timestamp()


class IndexCollector:
    """Index gauges, read at scrape time from the searcher being served."""

    def __init__(self, state: Any):
        self.state = state

    def describe(self) -> list:
        return []  # values are read only at scrape time (collect), never at registration

    def collect(self):
        searcher = self.state.searcher
        ready = GaugeMetricFamily(f"{PREFIX}_index_ready", "1 once the index is loaded and answering.")
        ready.add_metric([], 1.0 if searcher is not None else 0.0)
        yield ready
        if searcher is None:
            return
        stats = searcher.stats()
        reader = searcher.reader
        for name, value, text in (
            ("index_articles", stats["articles"], "Articles in the served index."),
            ("index_passages", stats["passages"], "Passages in the served index."),
            ("index_generation", reader.generation, "Database generation the server has caught up with."),
            ("index_last_refresh_timestamp_seconds", reader.refreshed_at,
             "When the server last took in a write (or loaded the index), Unix time."),
            ("index_built_timestamp_seconds", timestamp(reader.manifest.built_at),
             "When the served vector snapshot was written, Unix time."),
        ):
            gauge = GaugeMetricFamily(f"{PREFIX}_{name}", text)
            gauge.add_metric([], float(value))
            yield gauge


class MetricsMiddleware:
    """Outermost middleware: counts and times every answer under its route template."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, routes: list):
        self.app = app
        self.metrics = metrics
        self.routes = routes

    def route_of(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return getattr(route, "path", UNMATCHED) or UNMATCHED
        return UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = self.route_of(scope)
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
            self.metrics.requests.labels(route, scope.get("method", ""), str(status)).inc()
            if status >= 500:
                self.metrics.errors.labels(route).inc()


def check_metrics_key(request: Request, key: str) -> None:
    offered = request.headers.get("x-api-key") or ""
    auth = request.headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        offered = auth[7:].strip()
    if not offered:
        raise HTTPException(401, "/metrics needs 'Authorization: Bearer <key>' (THAIGOV_SEARCH_METRICS_KEY)",
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(offered.encode("utf-8"), key.encode("utf-8")):
        raise HTTPException(403, "the metrics key is not valid")


def add_metrics_route(app: FastAPI, state: Any, metrics: ServiceMetrics) -> None:
    settings: Settings = state.settings

    @app.get("/metrics", include_in_schema=False)
    async def metrics_route(request: Request) -> Response:
        if settings.metrics_key:
            check_metrics_key(request, settings.metrics_key)
        body = await run_in_threadpool(generate_latest, metrics.registry)  # no request time limit: scrapes must answer
        return Response(body, media_type=CONTENT_TYPE_LATEST)
