"""The server against a Postgres that restarts under load.

Databases restart: for upgrades, failovers, a crash. While one is away the server must answer
503 with Retry-After in each family's error shape (clients and load balancers know to retry),
never a 500, and never acknowledge a write it did not keep; once the database is back, fresh
connections replace the dead ones and requests succeed again without restarting the server.
"""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.live_server import LiveServer
from tests.postgres_instance import (
    PostgresCluster,
    own_postgres,
    requires_postgres_programs,
    server_with_settings,
)

pytestmark = requires_postgres_programs

WRITERS = 7
REQUEST_TIMEOUT = 10.0
PAUSE_AFTER_UNAVAILABLE = 0.05
RECOVERY_SECONDS = 15


@dataclass(frozen=True)
class Answer:
    """One request's outcome; ``status`` is None when no HTTP answer came at all."""

    started: float
    finished: float
    customer_number: str
    status: int | None
    retry_after: str | None = None
    body: object = None
    problem: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@pytest.fixture
def postgres() -> Iterator[PostgresCluster]:
    with own_postgres() as cluster:
        yield cluster


@pytest.fixture
def server(postgres: PostgresCluster, tmp_path: Path) -> Iterator[LiveServer]:
    settings = {
        "DATABASE_URL": postgres.create_database("customers"),
        "VAULT_DIR": str(tmp_path / "vault"),
        # Eight writers as fast as the server answers: far past any real client's budget.
        "RATE_LIMIT_PER_KEY": "0",
        "RATE_LIMIT_PER_GROUP": "0",
    }
    with server_with_settings(tmp_path / "server", settings) as running:
        yield running


def body_of(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text


def try_to_create(client: httpx.Client, customer_number: str) -> Answer:
    """One attempt at a customer, as the writer saw it: the answer, or the error it met."""
    started = time.monotonic()
    try:
        response = client.post(
            "/api/1/customer",
            json={"name": f"Customer {customer_number}", "customerNumber": customer_number},
        )
    except httpx.HTTPError as exc:
        return Answer(started, time.monotonic(), customer_number, None, problem=repr(exc))
    return Answer(
        started,
        time.monotonic(),
        customer_number,
        response.status_code,
        response.headers.get("Retry-After"),
        body_of(response),
    )


def keep_writing(server: LiveServer, key: str, writer: int, stop: threading.Event) -> list[Answer]:
    """Create customers one after another until told to stop; every answer, in order."""
    answers = []
    with httpx.Client(
        base_url=server.base_url, headers={"API-Key": key}, timeout=REQUEST_TIMEOUT
    ) as client:
        while not stop.is_set():
            answer = try_to_create(client, f"W{writer}-{len(answers):05d}")
            answers.append(answer)
            if not answer.succeeded:
                time.sleep(PAUSE_AFTER_UNAVAILABLE)
    return answers


def keep_probing_ready(server: LiveServer, stop: threading.Event) -> list[int | None]:
    statuses = []
    with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as client:
        while not stop.is_set():
            try:
                statuses.append(client.get("/ready").status_code)
            except httpx.HTTPError:
                statuses.append(None)
            time.sleep(0.1)
    return statuses


@dataclass
class Outage:
    """What the server answered while Postgres was stopped."""

    ready: httpx.Response
    assignments: httpx.Response
    began: float
    ended: float


def outage(postgres: PostgresCluster, server: LiveServer, key: str) -> Outage:
    """Stop Postgres, ask the server while it is down, start Postgres again."""
    began = time.monotonic()
    postgres.stop("fast")
    with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as client:
        ready = client.get("/ready")
        assignments = client.get("/api/v1.0/users", headers={"API-Key": key})
    time.sleep(1.5)  # the writers meet the outage too
    postgres.start()
    return Outage(ready, assignments, began, time.monotonic())


def unexpected(answers: list[Answer]) -> list[Answer]:
    """Answers other than 2xx or a well-formed 503 of the /api/1 family."""

    def expected(answer: Answer) -> bool:
        if answer.succeeded:
            return True
        body = answer.body
        return (
            answer.status == 503
            and answer.retry_after is not None
            and isinstance(body, dict)
            and body.get("success") is False
            and body.get("error") == "service_unavailable"
            and isinstance(body.get("message"), str)
        )

    return [answer for answer in answers if not expected(answer)]


def listed_customer_numbers(server: LiveServer, key: str) -> set[str]:
    numbers: set[str] = set()
    with httpx.Client(base_url=server.base_url, headers={"API-Key": key}, timeout=30) as client:
        while True:
            response = client.get("/api/1/customer", params={"limit": 1000, "offset": len(numbers)})
            if response.status_code == 204:
                return numbers
            assert response.status_code == 200, response.text
            numbers |= {customer["customerNumber"] for customer in response.json()}


def wait_until_ready(server: LiveServer) -> int:
    deadline = time.monotonic() + RECOVERY_SECONDS
    status = 0
    while time.monotonic() < deadline:
        status = httpx.get(f"{server.base_url}/ready", timeout=REQUEST_TIMEOUT).status_code
        if status == 200:
            break
        time.sleep(0.2)
    return status


def test_writers_see_only_success_or_503_across_restarts_and_nothing_acknowledged_is_lost(
    postgres: PostgresCluster, server: LiveServer
) -> None:
    key = server.first_key
    stop = threading.Event()
    with ThreadPoolExecutor(WRITERS + 1) as pool:
        writers = [pool.submit(keep_writing, server, key, n, stop) for n in range(WRITERS)]
        probes = pool.submit(keep_probing_ready, server, stop)
        try:
            time.sleep(2.5)
            down = outage(postgres, server, key)
            time.sleep(3)
            postgres.restart("fast")
            last_restart = time.monotonic()
            time.sleep(4)
        finally:
            stop.set()
        answers = [answer for writer in writers for answer in writer.result()]
        ready_statuses = probes.result()

    assert not unexpected(answers), unexpected(answers)[:5]
    assert any(not answer.succeeded for answer in answers), "no request met the outage"
    assert any(answer.succeeded and answer.started > last_restart for answer in answers)
    assert any(answer.succeeded and down.began > answer.finished for answer in answers)

    assert down.ready.status_code == 503
    assert down.ready.headers.get("Retry-After")
    assert down.assignments.status_code == 503, down.assignments.text
    assert down.assignments.headers.get("Retry-After")
    assert down.assignments.json().keys() == {"error", "error_description"}
    assert down.assignments.json()["error"] == "service_unavailable"
    assert set(ready_statuses) <= {200, 503}, ready_statuses
    assert wait_until_ready(server) == 200

    acknowledged = {answer.customer_number for answer in answers if answer.succeeded}
    assert acknowledged - listed_customer_numbers(server, key) == set()
