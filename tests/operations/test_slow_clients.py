"""Slow and keyless clients against ``customer-api serve`` on real sockets: headers or a body
that arrive too slowly are cut off after their timeouts, and a body sent without a valid key is
refused before it is read, while other clients are served meanwhile."""

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live_server import LiveServer, live_server

TIMEOUT_SECONDS = 1
# Loose bounds: "cut off at all, and not much later than the timeout", not a timing goal.
CUT_OFF_WITHIN = TIMEOUT_SECONDS + 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("slow-clients")
    settings = {
        "HEADER_TIMEOUT": str(TIMEOUT_SECONDS),
        "BODY_TIMEOUT": str(TIMEOUT_SECONDS),
        "VAULT_DIR": str(workdir / "vault"),
    }
    with live_server(workdir, settings=settings) as running:
        yield running


def connect(server: LiveServer) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=CUT_OFF_WITHIN + 5)


def everything_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def assert_served_meanwhile(server: LiveServer) -> None:
    response = httpx.get(f"{server.base_url}/api/1/customer", headers={"API-Key": server.first_key})
    assert response.status_code in (200, 204)


def test_headers_that_trickle_in_are_cut_off_with_408(server: LiveServer) -> None:
    started = time.monotonic()
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        try:
            for number in range(int(CUT_OFF_WITHIN / 0.25)):  # a header line now and then
                time.sleep(0.25)
                sock.sendall(f"X-Slow-{number}: y\r\n".encode())
                if number == 1:
                    assert_served_meanwhile(server)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = everything_until_closed(sock)
    assert time.monotonic() - started < CUT_OFF_WITHIN
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_a_connection_that_sends_nothing_is_closed(server: LiveServer) -> None:
    started = time.monotonic()
    with connect(server) as sock:
        answer = everything_until_closed(sock)
    assert time.monotonic() - started < CUT_OFF_WITHIN
    assert answer.startswith(b"HTTP/1.1 408"), answer


def post_head(path: str, key: str, length: int, content_type: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAPI-Key: {key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_a_body_that_stops_arriving_is_cut_off_with_408_in_the_family_shape(server) -> None:
    started = time.monotonic()
    with connect(server) as sock:
        sock.sendall(post_head("/api/1/customer", server.first_key, 100, "application/json"))
        sock.sendall(b'{"name": "Sl')
        assert_served_meanwhile(server)
        answer = everything_until_closed(sock)
    assert time.monotonic() - started < CUT_OFF_WITHIN
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b"connection: close" in head.lower()
    assert json.loads(body)["error"] == "request_timeout"


def test_an_upload_that_stalls_is_cut_off_and_leaves_nothing(server: LiveServer) -> None:
    vault = server.workdir / "vault"
    with connect(server) as sock:
        boundary = "b0undary"
        head = post_head(
            "/api/1/document/content",
            server.first_key,
            10_000_000,
            f"multipart/form-data; boundary={boundary}",
        )
        part = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=file; filename=a.bin\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        sock.sendall(head + part + b"u" * 65536)
        answer = everything_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b'"success":false' in answer
    assert not [p for p in Path(vault).rglob("*") if p.is_file()]


@pytest.mark.parametrize("key", ["", "cak_not-a-key"])
def test_an_upload_without_a_valid_key_is_refused_before_its_body(server, key) -> None:
    with connect(server) as sock:
        sock.sendall(
            post_head("/api/1/document/content", key, 95_000_000, "multipart/form-data; boundary=x")
        )
        sock.sendall(b"\0" * 65536)  # the rest (95 MB) is never sent
        answer = everything_until_closed(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401"), answer
    assert b"connection: close" in head.lower()
    assert json.loads(body)["success"] is False
