"""The real server process: the docs page in a real browser, its log output, its workers."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live_server import LiveServer, live_server

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("live")) as running:
        yield running


def render_in_chromium(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran, with every host but this machine unreachable."""
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=20000",
        "--dump-dom",
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_docs_page_renders_the_operations_offline(server: LiveServer, tmp_path: Path) -> None:
    dom = render_in_chromium(f"{server.base_url}/docs", tmp_path / "profile")
    for summary in ("Get customers", "Create a customer", "Delete a customer", "Authorize"):
        assert summary in dom
    assert dom.count('class="opblock-summary-description"') >= 5
    served = server.wait_for_log(lambda line: line.get("route") == "/openapi.json")
    routes = {line.get("route") for line in served if line["logger"] == "customer_api.access"}
    assert {"/docs", "/openapi.json", "/static-offline-docs"} <= routes


def test_log_output_is_one_json_object_per_line(server: LiveServer) -> None:
    response = httpx.get(
        f"{server.base_url}/api/1/customer?api_key=not-a-key",
        headers={"X-Request-ID": "live-check-1"},
    )
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "live-check-1"
    lines = server.wait_for_log(lambda line: line.get("request_id") == "live-check-1")
    assert all({"level", "logger", "message", "time"} <= line.keys() for line in lines)
    assert any("Uvicorn running" in line["message"] for line in lines)
    access = [line for line in lines if line.get("request_id") == "live-check-1"]
    assert [(line["route"], line["status"]) for line in access] == [("/api/1/customer", 401)]
    assert not any(line["logger"] == "uvicorn.access" for line in lines)
    assert "not-a-key" not in server.stderr


def requests_counted(text: str, route: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "customer_api_http_requests_total" and sample.labels["route"] == route
    )


def test_metrics_add_up_across_worker_processes(tmp_path: Path) -> None:
    with (
        live_server(tmp_path, "--workers", "2") as server,
        httpx.Client(base_url=server.base_url, headers={"Connection": "close"}) as client,
    ):
        for _ in range(30):
            client.get("/ready")
        # Whichever worker answers the scrape, it reports the figures of both.
        scrapes = [client.get("/metrics") for _ in range(4)]
    assert [requests_counted(scrape.text, "/ready") for scrape in scrapes] == [30.0] * 4
    messages = [line["message"] for line in server.log_lines()]
    assert sum("Started server process" in message for message in messages) == 2
