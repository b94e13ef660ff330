"""Per-client rate limiting: a token bucket per client address, answered with 429 and ``Retry-After``.

Each client address may make ``rate_limit_per_s`` requests a second on average and ``rate_limit_burst``
at once (a page load asks for ``/categories`` and ``/search`` together; a person paging quickly makes a
few more). Over the limit the answer is ``429 {"detail": ...}`` with ``Retry-After`` in whole seconds
(rounded up, so a client that waits that long always gets through); the page and the widget turn it
into a message in Thai and English.

What counts: every route except the ones that cost nothing or must never be refused: ``/health``
(load balancers), ``/metrics`` (Prometheus), the page itself and its static files. The client address
is the connection's, or, behind a reverse proxy that uvicorn trusts (``settings.forwarded_allow_ips``),
the one the proxy puts in ``X-Forwarded-For``. Buckets are kept for at most :data:`MAX_CLIENTS`
addresses (least recently seen dropped first), so a flood of addresses cannot exhaust memory; a
dropped address comes back with a full bucket, which costs at most one burst.

The check runs on the event loop with no I/O and no lock (the loop is one thread): a dict lookup and
a little arithmetic per request.
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from thaigov_search.api.guard import json_message

MAX_CLIENTS = 100_000
EXEMPT_PATHS = frozenset({"/", "/health", "/metrics", "/widget.js"})
EXEMPT_PREFIXES = ("/static/",)


class TokenBuckets:
    """``take(client)`` → 0 when the request may go, else the seconds until it could."""

    def __init__(self, rate: float, burst: int, max_clients: int = MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        self.rate, self.burst, self.max_clients, self.clock = rate, burst, max_clients, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client → (tokens, when)

    def take(self, client: str) -> float:
        now = self.clock()
        tokens, then = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)  # re-inserted last: the most recently seen
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


def default_burst(rate: float) -> int:
    """Unset burst: two seconds' worth of requests, at least 1."""
    return max(1, math.ceil(2 * rate))


def exempt(path: str) -> bool:
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)


class RateLimitMiddleware:
    """ASGI middleware over :class:`TokenBuckets`; sits inside CORS so a 429 carries the CORS headers."""

    def __init__(self, app: ASGIApp, rate: float, burst: int | None = None,
                 on_limited: Callable[[], None] | None = None):
        self.app = app
        self.buckets = TokenBuckets(rate, burst or default_burst(rate))
        self.on_limited = on_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or exempt(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.buckets.take(client[0] if client else "unknown")
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        if self.on_limited is not None:
            self.on_limited()
        retry_after = max(1, math.ceil(wait))
        buckets = self.buckets
        start, body = json_message(429, (
            f"too many requests from your address: at most {buckets.rate:g} a second (bursts of {buckets.burst}); "
            f"try again in {retry_after} s"))
        start["headers"].append((b"retry-after", str(retry_after).encode()))
        await send(start)
        await send(body)
