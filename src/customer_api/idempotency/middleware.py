"""``Idempotency-Key`` on POST and PUT: a retry of a request that succeeded gets the first
answer again, without the work being done twice.

The key is per group (two tenants may use the same key). The first request with a key claims it,
runs, and its successful (2xx) answer is kept with a fingerprint of the request (method, path,
body) for the retention. A retry with the same fingerprint gets that answer, marked
``Idempotent-Replayed: true``; the same key with another request is refused (422); a retry
while the first still runs is refused (409). An answer other than 2xx is not kept: nothing was
done, and the key is free again.
"""

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from customer_api.auth.dependencies import KEYED_PREFIXES, current_principal
from customer_api.core.errors import ApiError, error_body, http_refusal, unavailable_error
from customer_api.core.responses import JsonResponse
from customer_api.idempotency.service import Kept, KeyStore

logger = logging.getLogger("customer_api.idempotency")

HEADER = b"idempotency-key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_METHODS = frozenset({"POST", "PUT"})
# Answers larger than this are not kept (the API's answers to writes are a few KB).
MAX_KEPT_BYTES = 1024 * 1024
# Not replayed: they belong to the request that carried them, or are made anew.
_NOT_KEPT = frozenset({"x-request-id", "date", "server", "content-length", "connection"})


class IdempotencyKeyError(ApiError):
    pass


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, store: Callable[[Scope], KeyStore]) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key_of(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        try:
            group_id, store, kept = await self._claim(scope, key)
            if kept is not None:
                await _again(scope, receive, send, kept)
                return
        except Exception as exc:
            refused = (
                exc if isinstance(exc, ApiError) else _http_error(exc) or unavailable_error(exc)
            )
            if refused is None:
                raise
            await _error(refused)(scope, receive, send)
            return
        await _first(self.app, scope, receive, send, store, group_id, key)

    async def _claim(self, scope: Scope, key: str) -> tuple[int, KeyStore, Kept | None]:
        if not _VALID_KEY.match(key):
            raise IdempotencyKeyError(
                "Idempotency-Key: give 1 to 255 visible ASCII characters.",
                code="invalid_idempotency_key",
                status_code=400,
            )
        principal = await current_principal(Request(scope))
        store = self.store(scope)
        return principal.group_id, store, await store.claim(principal.group_id, key)


def _key_of(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope["method"] not in _METHODS:
        return None
    if not scope["path"].startswith(KEYED_PREFIXES):
        return None
    for name, value in scope["headers"]:
        if name == HEADER:
            return value.decode("latin-1").strip()
    return None


def _fingerprint_start(scope: Scope) -> "hashlib._Hash":
    digest = hashlib.sha256()
    digest.update(
        f"{scope['method']} {scope['path']}?{scope['query_string'].decode('latin-1')}\n".encode()
    )
    return digest


async def _first(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    store: KeyStore,
    group_id: int,
    key: str,
) -> None:
    """Run the request, fingerprinting its body on the way in and copying its answer on the way
    out; keep the answer if it is a success."""
    digest = _fingerprint_start(scope)
    status = 0
    headers: list[list[str]] = []
    body = bytearray()

    async def fingerprinting_receive() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            digest.update(message.get("body", b""))
        return message

    async def copying_send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = [
                [name.decode("latin-1"), value.decode("latin-1")]
                for name, value in message.get("headers", ())
                if name.decode("latin-1").lower() not in _NOT_KEPT
            ]
        elif message["type"] == "http.response.body" and len(body) <= MAX_KEPT_BYTES:
            body.extend(message.get("body", b""))
        await send(message)

    try:
        await app(scope, fingerprinting_receive, copying_send)
    except BaseException:
        await store.release(group_id, key)
        raise
    try:
        if 200 <= status < 300 and len(body) <= MAX_KEPT_BYTES:
            fingerprint = digest.hexdigest()
            await store.keep(
                group_id,
                key,
                fingerprint=fingerprint,
                status=status,
                headers=headers,
                body=bytes(body),
            )
        else:
            await store.release(group_id, key)
    except Exception:  # the answer is out; a retry finds the claim (409) until it is abandoned
        logger.warning("the answer to Idempotency-Key %r could not be kept", key, exc_info=True)


async def _again(scope: Scope, receive: Receive, send: Send, kept: Kept) -> None:
    """A retry: refused while the first runs or when it is another request; else the first
    answer, replayed."""
    if kept.status is None:
        raise IdempotencyKeyError(
            "Idempotency-Key: a request with this key is still being processed; retry later.",
            code="idempotency_key_in_use",
            status_code=409,
        )
    digest = _fingerprint_start(scope)
    while True:  # the body is read (within the body caps) only to be fingerprinted
        message = await receive()
        if message["type"] != "http.request":
            return
        digest.update(message.get("body", b""))
        if not message.get("more_body", False):
            break
    if digest.hexdigest() != kept.fingerprint:
        raise IdempotencyKeyError(
            "Idempotency-Key: this key was used for a different request (another method, path "
            "or body); use a new key for a new request.",
            code="idempotency_key_reused",
            status_code=422,
        )
    headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in kept.headers]
    headers += [
        (b"content-length", str(len(kept.body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]
    await send({"type": "http.response.start", "status": kept.status, "headers": headers})
    await send({"type": "http.response.body", "body": kept.body})


def _http_error(exc: BaseException) -> ApiError | None:
    """The body caps' and timeouts' refusals, raised while the body is read here."""
    return http_refusal(exc) if isinstance(exc, HTTPException) else None


def _error(refused: ApiError) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def respond(scope: Scope, receive: Receive, send: Send) -> None:
        content = error_body(scope["path"], refused.code, refused.message)
        await JsonResponse(content, refused.status_code, headers=refused.headers)(
            scope, receive, send
        )

    return respond
