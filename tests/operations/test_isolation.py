"""What one client's slow work does to everybody else, and what a stopped server leaves behind.

A request holds a database connection only while it talks to the database: an upload streams in
before any database work and a thumbnail renders after the connection is given back. So a group
stalling uploads, or rendering slow PDFs, with more requests than the pool has connections,
must not make another group's requests wait for a connection (which would answer 503 after
the pool timeout). And the vault's temporary files must not outlive their upload: a stopped
server removes its own, a killed one's are removed at the next start (but never a file another
running server is still writing).

The server runs as a real process on real sockets, with a connection pool of two, on SQLite and
also on Postgres when CUSTOMER_API_TEST_DATABASE_URL is set.
"""

import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from customer_api.vault.storage import UNCLAIMED_GRACE_SECONDS
from tests.documents import files
from tests.helpers import POSTGRES_URL
from tests.live_server import LiveServer, kill_process_group
from tests.postgres_instance import create_key, scratch_database, server_with_settings

DATABASES = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]
POOL_SIZE = 2
POOL_TIMEOUT_SECONDS = 2
# Loose: a request starved of a connection would wait the pool timeout and answer 503.
PROMPT_SECONDS = 2.0
STALLED_UPLOADS = 8
STALLED_UPLOAD_BYTES = 10 * 1024 * 1024
FIRST_BYTES_SENT = 4096
NEIGHBOUR_REQUESTS = 20
NEIGHBOUR_THREADS = 4
SLOW_PDFS = 4
# Full-page fills per PDF: about a second of rendering each.
FILLS_PER_PDF = 10_000
SHUTDOWN_TIMEOUT_SECONDS = 2
BOUNDARY = "isolation-boundary-7d1f"


@dataclass
class Deployment:
    """A running server with a small pool, its vault, and the keys of two groups."""

    server: LiveServer
    vault: Path
    busy_key: str
    neighbour_key: str


def file_settings(data_dir: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{data_dir / 'customer-api.db'}",
        "VAULT_DIR": str(data_dir / "vault"),
    }


@pytest.fixture(params=DATABASES)
def server_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield file_settings(tmp_path / "data")["DATABASE_URL"]
    else:
        with scratch_database(POSTGRES_URL) as url:
            yield url


@pytest.fixture
def small_pool(server_database_url: str, tmp_path: Path) -> Iterator[Deployment]:
    settings = {
        **file_settings(tmp_path / "data"),
        "DATABASE_URL": server_database_url,
        "DATABASE_POOL_SIZE": str(POOL_SIZE),
        "DATABASE_POOL_TIMEOUT": str(POOL_TIMEOUT_SECONDS),
        # The slow PDFs all render at once and get time to finish on a busy machine: what is
        # tested is that they hold no connection, not the render limits.
        "THUMBNAIL_CONCURRENCY": str(SLOW_PDFS),
        "THUMBNAIL_TIMEOUT": "60",
    }
    with server_with_settings(tmp_path / "server", settings) as server:
        neighbour_key = create_key(settings, "Neighbours")
        yield Deployment(server, Path(settings["VAULT_DIR"]), server.first_key, neighbour_key)


# --- uploads over raw sockets, stopped part-way -------------------------------------------------


class StalledUpload:
    """A POST /api/1/document/content that sent its headers and the start of its body, then
    stopped sending."""

    def __init__(self, server: LiveServer, key: str, size: int) -> None:
        self.part_head = (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.part_tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.size = size
        self.sent = min(FIRST_BYTES_SENT, size)
        host, port = server.base_url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(self._request_head(key, host) + self.part_head + b"u" * self.sent)

    def _request_head(self, key: str, host: str) -> bytes:
        length = len(self.part_head) + self.size + len(self.part_tail)
        return (
            "POST /api/1/document/content HTTP/1.1\r\n"
            f"Host: {host}\r\n"
            f"API-Key: {key}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {length}\r\n\r\n"
        ).encode()

    def finish(self) -> int:
        """Send the rest of the body; the answer's status."""
        remaining = self.size - self.sent
        while remaining:
            chunk = min(remaining, 64 * 1024)
            self.sock.sendall(b"u" * chunk)
            remaining -= chunk
        self.sock.sendall(self.part_tail)
        status_line = self.sock.makefile("rb").readline().decode()
        return int(status_line.split()[1])

    def answer(self) -> bytes:
        """Whatever the server sent back before it closed the connection."""
        received = b""
        while chunk := self.sock.recv(65536):
            received += chunk
        return received

    def close(self) -> None:
        self.sock.close()


def incoming_files(vault: Path) -> list[Path]:
    incoming = vault / ".incoming"
    return sorted(incoming.iterdir()) if incoming.is_dir() else []


def eventually(condition: Callable[[], bool], seconds: float = 15) -> bool:
    """Whether ``condition`` holds within ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for_incoming(vault: Path, count: int) -> list[Path]:
    assert eventually(lambda: len(incoming_files(vault)) >= count), incoming_files(vault)
    return incoming_files(vault)


def wait_until_unclaimed_grace_passed(path: Path) -> None:
    """A temporary file younger than the grace period is left by a start whatever its owner."""
    age = time.time() - path.stat().st_ctime
    time.sleep(max(0.0, UNCLAIMED_GRACE_SECONDS + 0.5 - age))


# --- another group's requests ------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    request: str
    status: int
    seconds: float


def neighbour_request(client: httpx.Client, number: int) -> Timed:
    started = time.monotonic()
    if number % 2:
        response = client.get("/api/1/customer", params={"limit": 50})
        request = "GET /api/1/customer"
    else:
        customer = {"name": f"Neighbour {number}", "customerNumber": f"N-{number:04d}"}
        response = client.post("/api/1/customer", json=customer)
        request = "POST /api/1/customer"
    return Timed(request, response.status_code, time.monotonic() - started)


def neighbour_traffic(deployment: Deployment) -> list[Timed]:
    """NEIGHBOUR_REQUESTS reads and writes by the other group, a few at a time."""
    with (
        httpx.Client(
            base_url=deployment.server.base_url,
            headers={"API-Key": deployment.neighbour_key},
            timeout=30,
        ) as client,
        ThreadPoolExecutor(NEIGHBOUR_THREADS) as pool,
    ):
        return list(pool.map(lambda n: neighbour_request(client, n), range(NEIGHBOUR_REQUESTS)))


def assert_all_prompt_successes(answers: list[Timed]) -> None:
    slow_or_failed = [
        answer
        for answer in answers
        if not 200 <= answer.status < 300 or answer.seconds > PROMPT_SECONDS
    ]
    assert not slow_or_failed, slow_or_failed
    assert len(answers) == NEIGHBOUR_REQUESTS


def test_stalled_uploads_hold_no_connection_from_other_groups(small_pool: Deployment) -> None:
    with ExitStack() as stack:
        for _ in range(STALLED_UPLOADS):
            upload = StalledUpload(small_pool.server, small_pool.busy_key, STALLED_UPLOAD_BYTES)
            stack.callback(upload.close)
        eventually(lambda: len(incoming_files(small_pool.vault)) == STALLED_UPLOADS, seconds=5)

        answers = neighbour_traffic(small_pool)
        in_progress = incoming_files(small_pool.vault)

    assert_all_prompt_successes(answers)
    assert len(in_progress) == STALLED_UPLOADS
    assert eventually(lambda: not incoming_files(small_pool.vault)), "abandoned uploads kept"


# --- slow thumbnails ---------------------------------------------------------------------------


def upload_pdfs(deployment: Deployment, count: int, fills: int = FILLS_PER_PDF) -> list[str]:
    """Upload ``count`` different slow PDFs as the busy group; their uuids."""
    uuids = []
    with httpx.Client(
        base_url=deployment.server.base_url, headers={"API-Key": deployment.busy_key}, timeout=30
    ) as client:
        for number in range(count):
            pdf = files.fill_bomb_pdf(fills, f"copy {number}")
            parts = {"file": (f"slow-{number}.pdf", pdf, "application/pdf")}
            response = client.post("/api/1/document/content", files=parts)
            assert response.status_code == 200, response.text
            assert response.json()["document"]["mimeType"] == "application/pdf"
            uuids.append(response.json()["document"]["uuid"])
    return uuids


@dataclass(frozen=True)
class Fetched:
    status: int
    content_type: str
    finished: float


def fetch_thumbnail(deployment: Deployment, uuid: str) -> Fetched:
    response = httpx.get(
        f"{deployment.server.base_url}/vault/thumbnail/{uuid}",
        headers={"API-Key": deployment.busy_key},
        timeout=60,
    )
    return Fetched(response.status_code, response.headers.get("content-type", ""), time.monotonic())


def test_slow_renders_hold_no_connection_from_other_groups(small_pool: Deployment) -> None:
    uuids = upload_pdfs(small_pool, SLOW_PDFS)
    assert SLOW_PDFS > POOL_SIZE

    with ThreadPoolExecutor(SLOW_PDFS) as pool:
        renders = [pool.submit(fetch_thumbnail, small_pool, uuid) for uuid in uuids]
        time.sleep(0.3)  # the renders are under way
        answers = neighbour_traffic(small_pool)
        neighbours_done = time.monotonic()
        thumbnails = [render.result() for render in renders]

    assert_all_prompt_successes(answers)
    assert [(t.status, t.content_type) for t in thumbnails] == [(200, "image/jpeg")] * SLOW_PDFS
    assert max(t.finished for t in thumbnails) > neighbours_done, "rendering was not slow enough"


# --- temporary files after a stop or a kill ----------------------------------------------------


def test_an_upload_left_by_a_killed_server_is_removed_by_the_next_start(tmp_path: Path) -> None:
    settings = file_settings(tmp_path / "data")
    vault = Path(settings["VAULT_DIR"])
    with server_with_settings(tmp_path / "first", settings) as first:
        with closing(StalledUpload(first, first.first_key, STALLED_UPLOAD_BYTES)):
            [leftover] = wait_for_incoming(vault, 1)
            kill_process_group(first)
        assert first.process.returncode == -9
    assert leftover.exists()
    wait_until_unclaimed_grace_passed(leftover)

    with server_with_settings(tmp_path / "second", settings) as second:
        assert not leftover.exists()
        assert incoming_files(vault) == []
        assert "removed an upload left over" in second.stderr


def test_an_upload_another_running_server_is_writing_is_left_alone(tmp_path: Path) -> None:
    settings = file_settings(tmp_path / "data")
    vault = Path(settings["VAULT_DIR"])
    with (
        server_with_settings(tmp_path / "first", settings) as first,
        closing(StalledUpload(first, first.first_key, 256 * 1024)) as upload,
    ):
        [in_progress] = wait_for_incoming(vault, 1)
        wait_until_unclaimed_grace_passed(in_progress)
        with server_with_settings(tmp_path / "second", settings):
            assert in_progress.exists()
        assert upload.finish() == 200
    assert incoming_files(vault) == []


def test_sigterm_cuts_a_stalled_upload_off_in_time_and_removes_its_file(tmp_path: Path) -> None:
    settings = {
        **file_settings(tmp_path / "data"),
        "SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT_SECONDS),
    }
    vault = Path(settings["VAULT_DIR"])
    with (
        server_with_settings(tmp_path / "server", settings) as server,
        closing(StalledUpload(server, server.first_key, STALLED_UPLOAD_BYTES)) as upload,
    ):
        [partial] = wait_for_incoming(vault, 1)
        signalled = time.monotonic()
        server.process.terminate()
        server.process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS + 10)
        took = time.monotonic() - signalled
        answer = upload.answer()
    assert took < SHUTDOWN_TIMEOUT_SECONDS + 3
    # The client is told, in the family's shape, to come back, when the answer gets out before
    # the process is gone; it is never left with the server's bare 500.
    if answer:
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert b"retry-after: 2" in answer.lower()
        assert b"connection: close" in answer.lower()
        assert b'"error":"service_unavailable"' in answer
    assert not partial.exists()
    assert incoming_files(vault) == []


def render_processes(vault: Path) -> list[int]:
    """The pids of render processes working on a file of ``vault``."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"customer_api.vault.rendering" in arguments and any(
            argument.startswith(str(vault).encode()) for argument in arguments
        ):
            pids.append(int(cmdline.parent.name))
    return pids


def test_sigterm_with_renders_in_flight_stops_promptly_and_kills_them(tmp_path: Path) -> None:
    settings = {
        **file_settings(tmp_path / "data"),
        "SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT_SECONDS),
        "THUMBNAIL_TIMEOUT": "120",
        "THUMBNAIL_CPU_SECONDS": "120",
    }
    vault = Path(settings["VAULT_DIR"])
    with server_with_settings(tmp_path / "server", settings) as server:
        deployment = Deployment(server, vault, server.first_key, server.first_key)
        uuids = upload_pdfs(deployment, 2, fills=1_000_000)  # minutes of rendering each
        with ThreadPoolExecutor(2) as pool:
            for uuid in uuids:
                pool.submit(fetch_thumbnail, deployment, uuid)
            assert eventually(lambda: len(render_processes(vault)) == 2)
            signalled = time.monotonic()
            server.process.terminate()
            server.process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS + 10)
            took = time.monotonic() - signalled
    assert took < SHUTDOWN_TIMEOUT_SECONDS + 3
    assert eventually(lambda: not render_processes(vault), seconds=5)
