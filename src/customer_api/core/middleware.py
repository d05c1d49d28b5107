"""Pure ASGI middleware: request ids, access log and metrics; the request body size cap.

Pure ASGI (not ``BaseHTTPMiddleware``) so that streamed responses, such as vault downloads, pass
through chunk by chunk and are never buffered.
"""

import asyncio
import contextlib
import logging
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from customer_api.core import metrics
from customer_api.core.errors import (
    BUSY_TEXT,
    CUT_OFF_TEXT,
    server_error_response,
    unavailable_response,
)
from customer_api.core.logs import (
    REQUEST_ID_HEADER,
    clean_request_id,
    new_request_id,
    request_id_var,
)

access_logger = logging.getLogger("customer_api.access")
logger = logging.getLogger("customer_api.errors")

# The key in the request's state (``request.state``) of response fields to add to any answer.
RESPONSE_HEADERS_STATE = "response_headers"
CLIENT_CLOSED_REQUEST = 499  # no answer was sent: the client went away first (nginx's code)
MULTIPART_OVERHEAD_BYTES = 1024 * 1024


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request, or one label for no route."""
    if path := _template(scope.get("route")):
        return path
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        for candidate in scope["app"].routes:
            if endpoint in (getattr(candidate, "endpoint", None), getattr(candidate, "app", None)):
                return _template(candidate) or metrics.UNMATCHED_ROUTE
    return metrics.UNMATCHED_ROUTE


def _template(route: object) -> str | None:
    """A route's path as the document writes it: ``{customer_id}``, not the path's own
    ``{customer_id:customer_ref}``; a mount's path as mounted."""
    path = getattr(route, "path", None)
    if path and ":" in path:
        return getattr(route, "path_format", path)
    return path


def header_value(scope: Scope, name: bytes) -> str | None:
    """The value of a request header (``name`` in lower case), or None."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class RequestObservabilityMiddleware:
    """Gives each request an id (the client's ``X-Request-ID``, cleaned, or a new one), echoes it
    in the response, makes it part of every log line written meanwhile, and writes one access
    line and the request metrics when the response is complete.

    A crash that escapes the app's handlers is answered here, in the family's error shape and
    with the request id, so that the 500 a client sees can be found in the logs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = clean_request_id(header_value(scope, b"x-request-id")) or new_request_id()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status: int | None = None
        id_header = (REQUEST_ID_HEADER.lower().encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Fields a layer below left for whatever the answer turns out to be (the rate
                # limits' RateLimit fields, set before the route ran or refused).
                extra = scope["state"].get(RESPONSE_HEADERS_STATE, ()) if "state" in scope else ()
                message["headers"] = [*message.get("headers", ()), *extra, id_header]
            await send(message)

        metrics.IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            # Cut off (a stop whose grace period ran out): say so rather than leave the client
            # with the server's bare 500, then let the cancellation go on.
            if status is None:
                with contextlib.suppress(Exception):
                    await unavailable_response(scope["path"], CUT_OFF_TEXT, closing=True)(
                        scope, receive, send_with_id
                    )
            raise
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if status is not None:
                raise
            await server_error_response(scope["path"])(scope, receive, send_with_id)
        finally:
            metrics.IN_PROGRESS.dec()
            self._record(scope, status or CLIENT_CLOSED_REQUEST, time.perf_counter() - started)
            request_id_var.reset(token)

    @staticmethod
    def _record(scope: Scope, status: int, seconds: float) -> None:
        route = route_template(scope)
        metrics.observe_request(scope["method"], route, status, seconds)
        if not access_logger.isEnabledFor(logging.INFO):
            return
        client = scope.get("client")
        fields: dict[str, Any] = {
            "method": scope["method"],
            "route": route,
            "path": scope["path"],  # never the query string: it may carry an api_key
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": client[0] if client else None,
        }
        access_logger.info("%s %s %s", scope["method"], route, status, extra=fields)


class BodyLimitMiddleware:
    """Caps request bodies by route, by Content-Length and by counting the bytes received, and
    cuts off a body that stops arriving.

    The upload routes (``upload_paths``) take file uploads: they enforce ``max_upload_bytes`` on
    the file themselves, so here they get a ceiling a little above it for the multipart framing.
    Every other route takes at most ``max_json_bytes``, whatever the content type says. Over the
    cap the app answers 413 in the family's error shape, before any byte beyond it is read.
    When no byte of the body arrives for ``body_timeout`` seconds, it answers 408 and closes the
    connection (the same rule as nginx's ``client_body_timeout``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_json_bytes: int,
        max_upload_bytes: int,
        upload_paths: frozenset[str],
        body_timeout: float,
    ) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.max_multipart_bytes = max_upload_bytes + MULTIPART_OVERHEAD_BYTES
        self.upload_paths = upload_paths
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["path"] in self.upload_paths
        limit = self.max_multipart_bytes if upload else self.max_json_bytes
        guarded = guarded_receive(receive, scope, limit, upload=upload, idle=self.body_timeout)
        await self.app(scope, guarded, send)


def guarded_receive(
    receive: Receive, scope: Scope, limit: int, *, upload: bool, idle: float
) -> Receive:
    declared = header_value(scope, b"content-length") or ""
    received = 0
    complete = False

    async def receive_within_limits() -> Message:
        nonlocal received, complete
        if complete:  # the body is in; what follows is the wait for a disconnect
            return await receive()
        if declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
            raise _too_large(limit, upload=upload)
        try:
            async with asyncio.timeout(idle):
                message = await receive()
        except TimeoutError:
            raise _too_slow(idle) from None
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            complete = not message.get("more_body", False)
            if received > limit:
                raise _too_large(limit, upload=upload)
        return message

    return receive_within_limits


def _too_large(limit: int, *, upload: bool) -> HTTPException:
    what = "multipart body" if upload else "request body"
    return HTTPException(413, detail=f"The {what} is larger than the limit of {limit} bytes.")


def _too_slow(idle: float) -> HTTPException:
    return HTTPException(
        408,
        detail=f"The request body stopped arriving: nothing came for {idle:g} seconds.",
        headers={"Connection": "close"},
    )


class InFlight:
    """How many requests a process is serving, against the most it takes on at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    @property
    def saturated(self) -> bool:
        return self.count >= self.limit


# Probes and metrics are always answered: they are how an operator sees the overload.
UNCOUNTED_PATHS = frozenset({"/health", "/ready", "/metrics"})


class LoadSheddingMiddleware:
    """Past ``InFlight.limit`` requests in progress, answers 503 with ``Retry-After`` at once (in
    the family's error shape) rather than queueing without bound: a client told to come back
    soon fares better than one whose request times out in a queue."""

    def __init__(self, app: ASGIApp, *, in_flight: InFlight) -> None:
        self.app = app
        self.in_flight = in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCOUNTED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight.saturated:
            logger.warning("answered 503: %d requests in progress", self.in_flight.count)
            await unavailable_response(scope["path"], BUSY_TEXT)(scope, receive, send)
            return
        self.in_flight.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight.count -= 1
