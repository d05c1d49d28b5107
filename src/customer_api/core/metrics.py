"""Prometheus metrics: requests by method, route template and status, and the indexer backlog.

Labels are bounded: the route is the template (``/api/1/customer/{customer_id}``), never the raw
path; a request that matched no route is counted under one label; unknown HTTP methods are
counted as ``OTHER``.

With several worker processes (``CUSTOMER_API_WORKERS`` > 1) each worker keeps its own figures;
``customer-api serve`` then sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh directory before the
workers start, and ``/metrics`` adds up the files all workers write there.
"""

import os
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.ext.asyncio import AsyncSession

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUESTS = Counter(
    "customer_api_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "customer_api_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, in seconds.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
IN_PROGRESS = Gauge(
    "customer_api_http_requests_in_progress",
    "HTTP requests being handled right now.",
    multiprocess_mode="livesum",
)
INDEXER_BACKLOG = Gauge(
    "customer_api_indexer_backlog",
    "Search index changes written to the outbox and not yet applied to Elasticsearch.",
    multiprocess_mode="mostrecent",
)
INDEXER_DEAD_LETTERS = Gauge(
    "customer_api_indexer_dead_letters",
    "Outbox entries Elasticsearch refused too often, set aside until retried by "
    "`customer-api dead-letters retry`.",
    multiprocess_mode="mostrecent",
)
THUMBNAIL_RENDERS = Counter(
    "customer_api_thumbnail_renders",
    "Thumbnail renders by outcome: rendered; refused (unreadable, or too large to decode within "
    "the memory limit); timeout, cpu_limit, memory_limit (cut off); failed (the renderer "
    "crashed); busy (not started: the queue was full).",
    ["outcome"],
)
RATE_LIMIT_STORAGE_ERRORS = Counter(
    "customer_api_rate_limit_storage_errors",
    "Times Redis failed to count a request against its rate limits; each lets requests through "
    "uncounted for a few seconds.",
)
WEBHOOK_DELIVERIES = Gauge(
    "customer_api_webhook_deliveries",
    "Webhook deliveries kept in the database by status: delivered and failed (finished in the "
    "last 7 days), pending (waiting for a first attempt or a retry).",
    ["status"],
    multiprocess_mode="mostrecent",
)
WEBHOOK_OLDEST_PENDING = Gauge(
    "customer_api_webhook_oldest_pending_seconds",
    "Age of the oldest webhook event not yet delivered to every subscription that wants it.",
    multiprocess_mode="mostrecent",
)

BacklogCounter = Callable[[AsyncSession], Awaitable[int]]


def set_webhook_figures(figures: dict[str, float]) -> None:
    for status in ("delivered", "failed", "pending"):
        WEBHOOK_DELIVERIES.labels(status).set(figures[status])
    WEBHOOK_OLDEST_PENDING.set(figures["oldest_pending_seconds"])


# The request metrics' children by their labels (bounded: known methods, route templates,
# statuses), so that a request costs a dict lookup rather than the client library's labels().
_REQUEST_CHILDREN: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    children = _REQUEST_CHILDREN.get((method, route, status))
    if children is None:
        labels = (method if method in KNOWN_METHODS else "OTHER", route, str(status))
        children = REQUESTS.labels(*labels), LATENCY.labels(*labels)
        if method in KNOWN_METHODS:
            _REQUEST_CHILDREN[method, route, status] = children
    children[0].inc()
    children[1].observe(seconds)


def set_indexer_backlog(count: int) -> None:
    """Report how many outbox entries wait for the indexer."""
    INDEXER_BACKLOG.set(count)


def track_indexer_backlog(
    app: FastAPI, counter: BacklogCounter, dead_letters: BacklogCounter | None = None
) -> None:
    """Have ``/metrics`` count the backlog (and the dead letters) in the database at every
    scrape.

    The backlog is a fact of the shared database, so any app replica can report it, whichever
    indexer process drains the outbox.
    """
    app.state.indexer_backlog_counter = counter
    app.state.indexer_dead_letter_counter = dead_letters


async def refresh_indexer_backlog(app: FastAPI) -> None:
    counter: BacklogCounter | None = getattr(app.state, "indexer_backlog_counter", None)
    if counter is None:
        return
    dead_letters: BacklogCounter | None = getattr(app.state, "indexer_dead_letter_counter", None)
    async with app.state.database.sessions() as session:
        set_indexer_backlog(await counter(session))
        if dead_letters is not None:
            INDEXER_DEAD_LETTERS.set(await dead_letters(session))


def _registry() -> CollectorRegistry:
    if not os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def exposition(accept: str | None) -> tuple[bytes, str]:
    """The current figures in the format the scraper asked for, and its content type."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(_registry()), content_type
