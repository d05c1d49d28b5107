"""A client that goes away mid-upload, over a real socket to a real uvicorn server."""

import asyncio
from collections.abc import Callable

import uvicorn

from tests.documents.helpers import (
    BOUNDARY,
    UPLOAD_LIMIT,
    count_documents,
    multipart_head,
    stored_files,
)


async def until(condition: Callable[[], object], what: str) -> None:
    """Wait (at most ten seconds) for something the server does in its own time."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"gave up waiting: {what}")


async def test_dropped_connection_mid_upload_leaves_no_file_and_no_row(
    app, acme, vault_dir
) -> None:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        await until(lambda: server.started, "the server to start")
        port = server.servers[0].sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                "POST /api/1/document/content HTTP/1.1\r\n"
                "Host: 127.0.0.1\r\n"
                f"API-Key: {acme.key}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                f"Content-Length: {UPLOAD_LIMIT}\r\n\r\n"
            ).encode()
            + multipart_head()
            + b"q" * 100_000
        )
        await writer.drain()
        await until(lambda: stored_files(vault_dir), "the upload to reach the vault")
        writer.close()  # ... with most of the declared body never sent
        await writer.wait_closed()
    finally:
        server.should_exit = True
        await serving  # a graceful shutdown waits for the upload's request to finish
    assert stored_files(vault_dir) == []
    assert await count_documents(app) == 0
