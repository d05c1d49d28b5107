"""Limits that protect the server: the request body caps by route (the upload route's, every
other route's), and no body read from a caller without a valid key."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from customer_api.app import create_app
from customer_api.config import Settings
from customer_api.core.middleware import MULTIPART_OVERHEAD_BYTES
from customer_api.documents.router import UPLOAD_PATH
from tests.helpers import empty_all_tables, make_key

JSON_CAP = 4096
UPLOAD_CAP = 8192


@pytest.fixture
async def capped(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with small caps, so that tests send small bodies."""
    small = settings.model_copy(update={"max_json_bytes": JSON_CAP, "max_upload_bytes": UPLOAD_CAP})
    application = create_app(small)
    async with application.router.lifespan_context(application):
        _, key = await make_key(application, "Capped")
        transport = httpx.ASGITransport(app=application)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver", headers={"API-Key": key}
            ) as client:
                yield client
        finally:
            await empty_all_tables(application.state.database)


def customer_of_size(size: int) -> bytes:
    body = json.dumps({"name": "Big", "notes": ""}).encode()
    return body.replace(b'""', b'"' + b"n" * (size - len(body)) + b'"')


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"] == "payload_too_large"
    assert str(JSON_CAP) in body["message"]


async def test_json_body_at_the_cap_is_accepted(capped) -> None:
    body = customer_of_size(JSON_CAP)
    assert len(body) == JSON_CAP
    response = await capped.post(
        "/api/1/customer", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text


async def test_json_body_over_the_cap_is_413(capped) -> None:
    response = await capped.post(
        "/api/1/customer",
        content=customer_of_size(JSON_CAP + 1),
        headers={"Content-Type": "application/json"},
    )
    assert_too_large(response)
    assert (await capped.get("/api/1/customer")).status_code == 204  # nothing was created


async def test_streamed_json_body_without_length_is_counted(capped) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        body = customer_of_size(JSON_CAP * 3)
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = await capped.post(
        "/api/1/customer", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_too_large(response)


async def test_body_without_content_type_is_capped_like_json(capped) -> None:
    response = await capped.post("/api/1/customer", content=customer_of_size(JSON_CAP + 1))
    assert_too_large(response)


async def test_a_json_route_caps_multipart_at_the_json_cap(capped) -> None:
    # Only the upload route takes the upload cap, whatever the content type says.
    files = {"file": ("notes.txt", b"x" * (JSON_CAP * 2), "text/plain")}
    assert_too_large(await capped.post("/api/1/customer", files=files))


async def test_the_upload_route_takes_files_over_the_json_cap(capped) -> None:
    files = {"file": ("notes.txt", b"x" * (JSON_CAP * 2), "text/plain")}
    response = await capped.post(UPLOAD_PATH, files=files)
    assert response.status_code == 200, response.text


async def test_multipart_over_the_upload_ceiling_is_413(capped) -> None:
    files = {"file": ("big.bin", b"x" * (UPLOAD_CAP + MULTIPART_OVERHEAD_BYTES + 1), "text/plain")}
    response = await capped.post(UPLOAD_PATH, files=files)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


class CountedBody:
    """A large body sent in chunks, counting how many the server asked for."""

    def __init__(self, chunks: int, chunk: bytes = b"\0" * 65536) -> None:
        self.chunks, self.chunk, self.sent = chunks, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.sent += 1
            yield self.chunk


@pytest.mark.parametrize(
    ("path", "key", "content_type"),
    [
        (UPLOAD_PATH, None, "multipart/form-data; boundary=x"),
        ("/api/1/customer", None, "multipart/form-data; boundary=x"),
        ("/api/1/customer", "cak_not-a-key", "application/json"),
        ("/api/v1.0/customerEmployees", None, "application/json"),
    ],
)
async def test_a_body_without_a_valid_key_is_refused_unread(capped, path, key, content_type):
    body = CountedBody(1500)  # about 95 MB
    headers = {"Content-Type": content_type, "Content-Length": str(1500 * 65536)}
    headers["API-Key"] = key or ""
    response = await capped.post(path, content=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["connection"] == "close"
    assert body.sent <= 1  # what the transport pulled before the answer, at most
    if path.startswith("/api/v1.0"):
        assert response.json()["error"] == "unauthorized"
    else:
        assert response.json()["success"] is False
