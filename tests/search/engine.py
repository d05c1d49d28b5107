"""A real search engine for the tests and benches: osmem-server (PyPI ``osmem-server``, an
in-memory OpenSearch-compatible server with a BM25 engine; the wheel ships the binary) behind a
media-type shim, on free loopback ports.

The shim exists because the official ``elasticsearch`` 9 client and an OpenSearch engine
disagree on two headers only: the client sends ``application/vnd.elasticsearch+json;
compatible-with=9`` (OpenSearch answers 406) and insists on an ``X-Elastic-Product:
Elasticsearch`` answer. The shim rewrites those two and passes everything else through
unchanged: method, path, query, body and status. The application code never knows.

Run ``python -m tests.search.engine`` to keep one running (it prints its URL), e.g. for
``bench/search_lag.py``.
"""

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from osmem_server import OsmemServer

ELASTIC_MEDIA_TYPES = {
    "application/vnd.elasticsearch+json": "application/json",
    "application/vnd.elasticsearch+x-ndjson": "application/x-ndjson",
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}

Observer = Callable[[str, str, bytes | None, int, bytes], None]
"""Sees each exchange as the engine answered it: method, path, request body, status, body."""


def plain_media_type(value: str) -> str:
    """``application/vnd.elasticsearch+json; compatible-with=9`` -> ``application/json``."""
    media_type = value.split(";", 1)[0].strip().lower()
    return ELASTIC_MEDIA_TYPES.get(media_type, value)


class _ShimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Elasticsearch does
    # Headers and body go out in separate writes: without this, the body waits for the
    # client's delayed ACK of the headers (40 ms on Linux) on every answer.
    disable_nagle_algorithm = True
    upstream: tuple[str, int]
    observer: "Observer | None" = None
    local = threading.local()

    def log_message(self, format: str, *args) -> None:
        pass

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(*self.upstream, timeout=60)
            self.local.connection = connection
        return connection

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _forward(self) -> None:
        body = self._body()
        headers = {
            name: plain_media_type(value) if name.lower() in ("accept", "content-type") else value
            for name, value in self.headers.items()
            if name.lower() not in HOP_BY_HOP
        }
        try:
            response = self._send_upstream(body, headers)
        except OSError:
            self.local.connection = None
            response = self._send_upstream(body, headers)  # a stale keep-alive connection
        payload = response.read()
        if self.observer is not None:
            self.observer(self.command, self.path, body, response.status, payload)
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "x-elastic-product":
                self.send_header(name, value)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _send_upstream(self, body: bytes | None, headers: dict[str, str]):
        connection = self._connection()
        connection.request(self.command, self.path, body=body, headers=headers)
        return connection.getresponse()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


class MediaTypeShim:
    """The shim in threads of this process, listening on ``url``."""

    def __init__(self, upstream_url: str, port: int = 0, observer: Observer | None = None) -> None:
        parts = urlsplit(upstream_url)
        handler = type(
            "Handler",
            (_ShimHandler,),
            {"upstream": (parts.hostname, parts.port), "observer": staticmethod(observer)}
            if observer
            else {"upstream": (parts.hostname, parts.port)},
        )
        handler.local = threading.local()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def running_engine(port: int = 0) -> Iterator[str]:
    """osmem-server and its shim for the duration; the URL the application is given."""
    server = OsmemServer.start(japanese=False)
    shim = MediaTypeShim(server.url, port)
    try:
        yield shim.url
    finally:
        shim.close()
        server.close()


if __name__ == "__main__":
    import sys

    with running_engine(int(sys.argv[1]) if len(sys.argv) > 1 else 0) as url:
        print(url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
