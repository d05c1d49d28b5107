"""Turning whichever key form a client sends into the caller's group."""

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import Headers, State

from customer_api.auth.rate_limits import RequestLimiter
from customer_api.auth.service import KeyResolver, Principal
from customer_api.core.errors import Unauthorized
from customer_api.core.express import ExpressCall

# How the OpenAPI document (and the docs page's Authorize button) states the key, any one of
# the three. The header API-Token and the query parameter api_token are accepted too,
# undeclared. Declared in the document rather than as FastAPI security dependencies: those cost
# three dependency resolutions on every request, and one function reads all five forms.
_ONE_OF_THREE = "Three ways to send the same API key: fill in one of them, not all three. "
KEY_SCHEMES: dict[str, dict[str, Any]] = {
    "ApiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "API-Key",
        "description": _ONE_OF_THREE + "This one, the API-Key header, is the usual choice.",
    },
    "ApiKeyQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "api_key",
        "description": _ONE_OF_THREE
        + "This one, the api_key query parameter, is for links a browser opens (vault files).",
    },
    "Bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": _ONE_OF_THREE + "This one, Authorization: Bearer, is the key as a token.",
    },
}
# Every path under these needs a key.
KEYED_PREFIXES = ("/api/", "/vault/")

MAX_KEY_LENGTH = 200
# Where the request's state keeps the caller once resolved.
PRINCIPAL_STATE = "principal"


def presented_key(request: Request) -> str | None:
    """The first key form the request carries, in the order of KEY_SCHEMES, then API-Token
    and api_token."""
    if key := header_key(request.headers):
        return key
    if not request.scope["query_string"]:  # most requests: no query string to parse
        return None
    query = request.query_params
    for key in (query.get("api_key"), query.get("api_token")):
        if key and key.strip():
            return key.strip()
    return None


def header_key(headers: Headers) -> str | None:
    """The key of the API-Key, API-Token or Authorization: Bearer header, in that order."""
    for key in (headers.get("api-key"), headers.get("api-token"), _bearer(headers)):
        if key and key.strip():
            return key.strip()
    return None


def _bearer(headers: Headers) -> str | None:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    return credentials if scheme.lower() == "bearer" else None


async def current_principal(request: Request) -> Principal:
    """The caller (resolved once per request: the body guard may have done it already)."""
    state = request.scope.setdefault("state", {})
    principal = state.get(PRINCIPAL_STATE)
    if principal is not None:
        return principal
    return await authenticate(request.app.state, state, presented_key(request))


async def authenticate(app_state: State, state: dict[str, Any], key: str | None) -> Principal:
    """The principal of ``key``, kept in the request's ``state`` and counted against its rate
    limits; Unauthorized when there is no valid key."""
    if key is None:
        raise Unauthorized("An API key is required: send it in the API-Key header.")
    keys: KeyResolver = app_state.keys
    principal = await keys.resolve(key) if len(key) <= MAX_KEY_LENGTH else None
    if principal is None:
        raise Unauthorized("The API key is not valid or has been revoked.")
    state[PRINCIPAL_STATE] = principal
    limiter: RequestLimiter | None = app_state.rate_limiter
    if limiter is not None:  # counted once: the next call finds the principal in the state
        await limiter.check(principal, state)
    return principal


async def express_principal(call: ExpressCall) -> Principal:
    """The caller on the express lane, which takes only requests with the key in a header."""
    return await authenticate(call.app_state, call.state, header_key(call.headers))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
