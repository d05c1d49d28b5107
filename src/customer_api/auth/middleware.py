"""A request body is read only for a caller with a valid key.

FastAPI reads (and parses) a route's body before it resolves the key, so without this a client
with no key could make every worker take in bodies up to the caps, for nothing. Here a request
that announces a body to a keyed path is answered 401 before a byte of it is read, and the
connection is closed rather than drained.
"""

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from customer_api.auth.dependencies import KEYED_PREFIXES, current_principal
from customer_api.core.errors import ApiError, refusal_response, unavailable_error


class KeyBeforeBodyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _sends_body(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not request.url.path.startswith(KEYED_PREFIXES):
            await self.app(scope, receive, send)
            return
        try:
            await current_principal(request)  # kept in the request's state for the route
        except Exception as exc:
            refused = exc if isinstance(exc, ApiError) else unavailable_error(exc)
            if refused is None:
                raise
            response = refusal_response(request.url.path, refused, {"Connection": "close"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _sends_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False
