"""Conditional requests (RFC 9110, section 13): entity tags of JSON answers, ``If-None-Match``
(304) and ``If-Match`` (412).

An answer's tag is a digest of its bytes, so it changes with every change of what the answer
shows (a customer's projects and documents included) without a version column to keep in step.
A write that is given ``If-Match`` renders the resource's current answer inside its own
transaction, with the row locked, and compares: two writers holding the same tag cannot both
win.
"""

import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from customer_api.core.errors import ApiError
from customer_api.core.middleware import header_value


class PreconditionFailed(ApiError):
    status_code = 412
    code = "precondition_failed"

    def __init__(self) -> None:
        super().__init__(
            "If-Match: the resource has changed since that version (or no longer exists). "
            "Read it again, then retry with its current ETag."
        )


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether the client's copy (``If-None-Match``, weak comparison) is current."""
    if if_none_match is None:
        return False
    tags = {tag.removeprefix("W/") for tag in _tags(if_none_match)}
    return "*" in tags or etag in tags


def require_match(if_match: str | None, current: bytes | None) -> None:
    """Raise PreconditionFailed unless ``If-Match`` (absent: no condition) names the current
    answer ``current`` (None: the resource does not exist). Strong comparison: a weak tag never
    matches."""
    if if_match is None:
        return
    tags = _tags(if_match)
    if current is None or not ("*" in tags or entity_tag(current) in tags):
        raise PreconditionFailed()


_TAGGED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH"})


class EntityTagMiddleware:
    """Tags every successful JSON answer under ``prefix`` that goes out in one piece, and answers
    a GET whose ``If-None-Match`` names the tag with 304 and no body."""

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _TAGGED_METHODS
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        if_none_match = header_value(scope, b"if-none-match") if scope["method"] == "GET" else None
        start: Message | None = None

        async def tagging_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and _is_json_success(message):
                start = message  # held until the body shows whether it comes in one piece
                return
            if start is None:
                await send(message)
                return
            held, start = start, None
            if message.get("more_body", False):  # streamed: no tag
                await send(held)
                await send(message)
                return
            etag = entity_tag(message.get("body", b""))
            if not_modified(if_none_match, etag):
                await send(_not_modified_start(held, etag))
                await send({"type": "http.response.body", "body": b""})
                return
            held["headers"] = [*held["headers"], (b"etag", etag.encode())]
            await send(held)
            await send(message)

        await self.app(scope, receive, tagging_send)


def _is_json_success(start: Message) -> bool:
    if start["status"] not in (200, 201):
        return False
    for key, value in start.get("headers", ()):
        if key.lower() == b"content-type":
            return value.startswith(b"application/json")
    return False


_DROPPED_ON_304 = frozenset({b"content-type", b"content-length"})


def _not_modified_start(start: Message, etag: str) -> Message:
    headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() not in _DROPPED_ON_304]
    headers.append((b"etag", etag.encode()))
    return {"type": "http.response.start", "status": 304, "headers": headers}
