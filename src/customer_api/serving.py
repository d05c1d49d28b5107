"""The HTTP protocol ``customer-api serve`` runs: uvicorn's, with a deadline for headers.

uvicorn waits for a request's headers for as long as the client likes (its keep-alive timeout
starts only after a first response), so a client that opens connections and sends a header
line now and then holds them forever. Here a connection that has not sent a request's whole
header block within ``CUSTOMER_API_HEADER_TIMEOUT`` seconds of its first byte (or of the
connection, before any) is answered 408 and closed. A slow body is the app's to cut off
(``core/middleware.py``), where the answer can be in the family's error shape.
"""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from customer_api.config import get_settings

_TOO_SLOW = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 38\r\n"
    b"connection: close\r\n\r\n"
    b"The request headers arrived too slowly"
)


class HeaderDeadlineProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = get_settings().header_timeout
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # else a response is going out
            self.transport.write(_TOO_SLOW)
        self.transport.close()
