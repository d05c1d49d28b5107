"""The express lane: the operations integrations call most, answered without the framework's
per-request machinery.

A request normally goes through the route table (a regular expression per route, in order),
FastAPI's dependency resolution and request objects, and five middleware layers that each wrap
the answer; for a customer by id that machinery cost more than reading the customer
(bench/README.md). An express route answers its operation directly, with the same service
call, key check, rate limits, entity tag and error bodies, but only for a *plain* request: the
key in a header, nothing in the query string but what the route reads itself, no conditional
write and no ``Idempotency-Key``. Anything else, and anything the route declines, goes the
usual way, to the route's FastAPI twin, which stays the one definition of the operation in the
OpenAPI document and of every unusual answer. The tests send the same requests both ways and
compare the answers.
"""

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from customer_api.core.conditional import entity_tag, not_modified
from customer_api.core.errors import ApiError, http_refusal, refusal_response, unavailable_error
from customer_api.core.middleware import guarded_receive
from customer_api.core.responses import JsonResponse

# Request fields that take a request off the express lane: they ask for what only the usual
# way does (a conditional write, an idempotent retry, a body in pieces).
_USUAL_WAY_HEADERS = frozenset({b"if-match", b"idempotency-key", b"transfer-encoding", b"expect"})


@dataclass
class ExpressCall:
    """What an express route gets: the path's named groups, the query, the headers, the body
    (the caller, once known, is in ``state``)."""

    scope: Scope
    params: Mapping[str, str]
    query: dict[str, str]
    headers: Headers
    body: bytes = b""

    @property
    def state(self) -> dict[str, Any]:
        return self.scope["state"]

    @property
    def app_state(self) -> Any:
        return self.scope["app"].state


# An answer: status and JSON value; None sends the request the usual way.
ExpressAnswer = tuple[int, Any] | None
Handler = Callable[[ExpressCall], Awaitable[ExpressAnswer]]
Authenticate = Callable[[ExpressCall], Awaitable[Any]]


@dataclass(frozen=True)
class ExpressRoute:
    """One operation on the lane. ``path`` is the template the document (and the metrics) name
    it by, ``regex`` what it matches; ``query`` the parameters the handler reads (any other
    goes the usual way); ``body`` whether it takes a JSON body."""

    method: str
    path: str
    regex: str
    handler: Handler
    query: frozenset[str] = frozenset()
    body: bool = False
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", re.compile(f"^{self.regex}$"))


@dataclass
class ExpressLane:
    """The routes, the key check they share, and how many requests the lane answered."""

    routes: list[ExpressRoute]
    authenticate: Authenticate
    max_body_bytes: int
    body_timeout: float
    answered: int = 0

    def route_for(self, scope: Scope) -> tuple[ExpressRoute, re.Match[str]] | None:
        for route in self.routes:
            if route.method == scope["method"] and (match := route.pattern.match(scope["path"])):
                return route, match
        return None


class ExpressLaneMiddleware:
    def __init__(self, app: ASGIApp, *, lane: ExpressLane) -> None:
        self.app = app
        self.lane = lane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.lane.route_for(scope) if scope["type"] == "http" else None
        if found is None or (call := _plain_call(scope, *found)) is None:
            await self.app(scope, receive, send)
            return
        route = found[0]
        scope.setdefault("state", {})
        scope["route"] = route  # for the access log and the metrics' route label
        response = await self._respond(route, call, receive)
        if response is None:  # declined: the usual way, with the body read so far
            del scope["route"]
            await self.app(scope, _replaying(call.body, receive) if route.body else receive, send)
            return
        self.lane.answered += 1
        await response(scope, receive, send)

    async def _respond(
        self, route: ExpressRoute, call: ExpressCall, receive: Receive
    ) -> Response | None:
        path = call.scope["path"]
        try:
            await self.lane.authenticate(call)
        except Exception as exc:
            # Refused before the body was read: the connection is closed rather than drained,
            # as the key check before the body does.
            return _refusal(path, exc, closing=_sends_body(call.headers))
        try:
            if route.body:
                call.body = await _read_body(call.scope, receive, self.lane)
            answer = await route.handler(call)
        except Exception as exc:
            return _refusal(path, exc)
        return None if answer is None else _answer(call, *answer)


def _plain_call(scope: Scope, route: ExpressRoute, match: re.Match[str]) -> ExpressCall | None:
    """The call, when the request is plain enough for the lane (see the module's docstring)."""
    headers = Headers(scope=scope)
    if any(name in _USUAL_WAY_HEADERS for name, _ in scope["headers"]):
        return None
    if route.body and not headers.get("content-length", "").isdigit():
        return None
    query: dict[str, str] = {}
    if scope["query_string"]:
        try:
            pairs = parse_qsl(
                scope["query_string"].decode("latin-1"),
                keep_blank_values=True,
                strict_parsing=True,
            )
        except ValueError:
            return None
        query = dict(pairs)
        if len(query) != len(pairs) or not query.keys() <= route.query:
            return None
    return ExpressCall(scope, match.groupdict(), query, headers)


async def _read_body(scope: Scope, receive: Receive, lane: ExpressLane) -> bytes:
    """The whole body, under the same cap and idle timeout as on the usual way."""
    guarded = guarded_receive(
        receive, scope, lane.max_body_bytes, upload=False, idle=lane.body_timeout
    )
    chunks = []
    while True:
        message = await guarded()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError  # nobody left to answer
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body read already, then whatever the client sends next."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _sends_body(headers: Headers) -> bool:
    return headers.get("content-length", "0") != "0"


def _refusal(path: str, exc: Exception, *, closing: bool = False) -> Response:
    """The answer the app's error handlers give for the same refusal, in the path's family.
    Anything that is not a refusal is a crash, for the outer layer to answer."""
    refused = http_refusal(exc) if isinstance(exc, HTTPException) else exc
    if not isinstance(refused, ApiError):
        refused = unavailable_error(exc)
    if refused is None:
        raise exc
    return refusal_response(path, refused, {"Connection": "close"} if closing else None)


def _answer(call: ExpressCall, status: int, content: Any) -> Response:
    """The JSON answer with its entity tag, as the usual way's tagging gives it; 304 to a GET
    whose client copy is current. No content: an empty answer (204)."""
    if content is None:
        return Response(status_code=status)
    body = JsonResponse.render_of(content)
    etag = entity_tag(body)
    if call.scope["method"] == "GET" and not_modified(call.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"etag": etag})
    response = Response(body, status, media_type=JsonResponse.media_type)
    response.raw_headers.append((b"etag", etag.encode()))
    return response
