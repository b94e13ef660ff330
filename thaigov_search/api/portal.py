"""The portal features (issue #12, docs/deploy.md) wired into one app: feeds and OpenSearch, the
per-client rate limit, Prometheus metrics, search analytics and the index-switch watcher, each from
its own module (feeds.py, rate_limit.py, metrics.py, analytics.py, index_switch.py). ``create_app``
calls these hooks in order; the settings decide which are on.
"""

from collections.abc import Callable

from fastapi import FastAPI

from thaigov_search.api.analytics import SearchRecorder, add_analytics_routes
from thaigov_search.api.feeds import add_feed_routes
from thaigov_search.api.index_switch import IndexWatcher
from thaigov_search.api.metrics import MetricsMiddleware, ServiceMetrics, add_metrics_route
from thaigov_search.api.rate_limit import RateLimitMiddleware
from thaigov_search.api.state import ServiceState
from thaigov_search.search.searcher import Searcher
from thaigov_search.store.analytics import analytics_path


class PortalFeatures:
    """Hooks for ``create_app`` (routes, middleware) and its lifespan (background threads)."""

    def __init__(self, app_state: ServiceState):
        self.state = app_state
        self.settings = app_state.settings
        self.metrics: ServiceMetrics | None = None
        self.watcher: IndexWatcher | None = None

    def add_rate_limit(self, app: FastAPI) -> None:
        if self.settings.rate_limit_per_s:
            app.add_middleware(RateLimitMiddleware, rate=self.settings.rate_limit_per_s,
                               burst=self.settings.rate_limit_burst, on_limited=self._limited)

    def _limited(self) -> None:
        if self.metrics is not None:
            self.metrics.rate_limited.inc()

    def add_routes(self, app: FastAPI, require_key: Callable) -> None:
        add_feed_routes(app, self.state)
        add_analytics_routes(app, self.state, require_key)
        if self.settings.metrics:
            self.metrics = ServiceMetrics(self.state)
            add_metrics_route(app, self.state, self.metrics)
            self.state.searcher_hooks.append(self._time_embeddings)

    def _time_embeddings(self, searcher: Searcher) -> None:
        if self.metrics is not None:
            searcher.query_vectors.on_embed = self.metrics.observe_embedding

    def add_metrics(self, app: FastAPI) -> None:
        if self.metrics is not None:
            app.add_middleware(MetricsMiddleware, metrics=self.metrics, routes=app.router.routes)

    def start(self) -> None:
        """At server start: the analytics writer and the index watcher threads."""
        if self.settings.analytics:
            drop = self.metrics.analytics_dropped.inc if self.metrics is not None else None
            recorder = SearchRecorder(analytics_path(self.state.index_dir, self.settings.analytics_db), self.settings, drop)
            recorder.start()
            self.state.recorder = recorder
        self.watcher = IndexWatcher(self.state, self.settings.index_watch_s)
        self.watcher.start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.state.recorder is not None:
            self.state.recorder.close()
            self.state.recorder = None
