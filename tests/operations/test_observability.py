"""Request ids, JSON log lines and Prometheus metrics, seen through the real app."""

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi.responses import StreamingResponse
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from customer_api.core.logs import MAX_REQUEST_ID_LENGTH, RequestIdFilter, json_formatter
from customer_api.core.metrics import track_indexer_backlog
from customer_api.customers.models import Customer


class LogLines:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def of_request(self, request_id: str) -> list[dict]:
        return [line for line in self.all() if line.get("request_id") == request_id]


@pytest.fixture
def json_logs() -> Iterator[LogLines]:
    """The app's log records, formatted as in production, collected in memory."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    app_logger = logging.getLogger("customer_api")
    previous_level = app_logger.level
    app_logger.addHandler(handler)
    app_logger.setLevel(logging.INFO)
    try:
        yield LogLines(stream)
    finally:
        app_logger.removeHandler(handler)
        app_logger.setLevel(previous_level)


async def test_request_id_from_the_client_is_echoed(client) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "checkout-42.a:b"})
    assert response.headers["X-Request-ID"] == "checkout-42.a:b"


async def test_request_id_is_cleaned_and_bounded(client) -> None:
    hostile = await client.get("/health", headers={"X-Request-ID": 'a b"<script>\\x'})
    assert hostile.headers["X-Request-ID"] == "abscriptx"
    long = await client.get("/health", headers={"X-Request-ID": "x" * 1000})
    assert long.headers["X-Request-ID"] == "x" * MAX_REQUEST_ID_LENGTH


async def test_request_id_is_made_when_missing_or_unusable(client) -> None:
    first = (await client.get("/health")).headers["X-Request-ID"]
    second = (await client.get("/health", headers={"X-Request-ID": "<>"})).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second


async def test_errors_carry_the_request_id_too(anonymous, client) -> None:
    unauthorised = await anonymous.get("/api/1/customer", headers={"X-Request-ID": "r-401"})
    assert (unauthorised.status_code, unauthorised.headers["X-Request-ID"]) == (401, "r-401")
    missing = await client.get("/api/1/customer/999", headers={"X-Request-ID": "r-404"})
    assert (missing.status_code, missing.headers["X-Request-ID"]) == (404, "r-404")


async def test_one_json_access_line_per_request(client, json_logs: LogLines) -> None:
    await client.get("/api/1/customer/77?api_key=secret", headers={"X-Request-ID": "trace-me"})
    lines = json_logs.of_request("trace-me")
    assert len(lines) == 1
    access = lines[0]
    assert access["logger"] == "customer_api.access"
    assert access["level"] == "INFO"
    assert access["message"] == "GET /api/1/customer/{customer_id} 404"
    assert access["method"] == "GET"
    assert access["route"] == "/api/1/customer/{customer_id}"
    assert access["path"] == "/api/1/customer/77"
    assert access["status"] == 404
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", access["time"])
    assert "secret" not in json_logs.stream.getvalue()


@pytest.mark.own_app  # it adds a route to the app
async def test_a_crash_is_a_500_with_the_request_id_in_answer_and_logs(
    app, client, json_logs: LogLines
) -> None:
    async def explode() -> None:
        raise RuntimeError("kaboom")

    app.add_api_route("/api/1/explode", explode)
    response = await client.get("/api/1/explode", headers={"X-Request-ID": "crash-1"})

    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "crash-1"
    assert response.json() == {
        "success": False,
        "error": "server_error",
        "message": "Oops! Something went wrong...",
    }
    assert "kaboom" not in response.text
    lines = json_logs.of_request("crash-1")
    error = next(line for line in lines if line["level"] == "ERROR")
    assert "kaboom" in error["exc_info"]
    access = next(line for line in lines if line["logger"] == "customer_api.access")
    assert access["status"] == 500


def _samples(text: str, name: str) -> dict[tuple, float]:
    """``{(labels as sorted pairs): value}`` of one metric's samples."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _labels(**labels: str) -> tuple:
    return tuple(sorted(labels.items()))


async def _scrape(client) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_count_requests_by_route_template_and_status(client) -> None:
    counts = "customer_api_http_requests_total"
    before = _samples(await _scrape(client), counts)
    await client.get("/api/1/customer/1")
    await client.get("/api/1/customer/2")
    await client.post("/api/1/customer", json={"name": "Wendy"})
    await client.get("/no/such/thing/123")
    await client.request("BREW", "/api/1/customer")
    after = _samples(await _scrape(client), counts)

    def grew(**labels: str) -> float:
        key = _labels(**labels)
        return after.get(key, 0) - before.get(key, 0)

    assert grew(method="GET", route="/api/1/customer/{customer_id}", status="404") == 2
    assert grew(method="POST", route="/api/1/customer", status="200") == 1
    assert grew(method="GET", route="<unmatched>", status="404") == 1
    assert grew(method="OTHER", route="/api/1/customer", status="405") == 1
    routes = {dict(key)["route"] for key in after}
    assert not routes & {"/api/1/customer/1", "/api/1/customer/2", "/no/such/thing/123"}


async def test_metrics_have_a_latency_histogram(client) -> None:
    await client.get("/health")
    text = await _scrape(client)
    buckets = _samples(text, "customer_api_http_request_duration_seconds_bucket")
    health = {
        dict(key)["le"]: value
        for key, value in buckets.items()
        if dict(key)["route"] == "/health" and dict(key)["status"] == "200"
    }
    assert health["+Inf"] >= 1
    assert health["0.005"] <= health["1.0"] <= health["+Inf"]


async def test_metrics_report_the_indexer_backlog_counted_at_scrape_time(app, client) -> None:
    # The search outbox is not part of this app's schema: a count of customers stands in for
    # it here, counted in a real database session at each scrape.
    async def count_rows(session) -> int:
        return await session.scalar(select(func.count()).select_from(Customer))

    track_indexer_backlog(app, count_rows)
    for name in ("a", "b", "c"):
        await client.post("/api/1/customer", json={"name": name})
    backlog = _samples(await _scrape(client), "customer_api_indexer_backlog")
    assert backlog == {(): 3.0}


async def test_metrics_need_no_key(anonymous) -> None:
    response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert "customer_api_http_requests_total" in response.text


async def test_metrics_speak_openmetrics_when_asked(anonymous) -> None:
    response = await anonymous.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


@pytest.mark.own_app  # it adds a route to the app
async def test_streamed_responses_pass_through_chunk_by_chunk(app) -> None:
    """The middleware forwards each chunk as it comes: the second chunk is only produced after
    the first one reached the server (a buffering middleware would wait forever here)."""
    first_chunk_sent = asyncio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first"
        await asyncio.wait_for(first_chunk_sent.wait(), timeout=10)
        yield b"second"

    async def stream() -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/plain")

    app.add_api_route("/stream", stream)
    sent: list[dict] = []
    request_read = False

    async def receive() -> dict:
        nonlocal request_read
        if not request_read:
            request_read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        return {}

    async def send(message: dict) -> None:
        sent.append(message)
        if message.get("body") == b"first":
            first_chunk_sent.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/stream",
        "raw_path": b"/stream",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)

    start = sent[0]
    assert start["status"] == 200
    assert re.fullmatch(rb"[0-9a-f]{32}", dict(start["headers"])[b"x-request-id"])
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body" and m.get("body")]
    assert bodies == [b"first", b"second"]
