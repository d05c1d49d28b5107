"""Turning whichever key form a client sends into the caller's group."""

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from customer_api.auth.service import KeyResolver, Principal
from customer_api.core.errors import Unauthorized

# Declared so that the OpenAPI document (and the docs page's Authorize button) knows the key.
# The header API-Token and the query parameter api_token are accepted too, undeclared.
api_key_header = APIKeyHeader(name="API-Key", auto_error=False, scheme_name="ApiKeyHeader")
api_key_query = APIKeyQuery(name="api_key", auto_error=False, scheme_name="ApiKeyQuery")
bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")

MAX_KEY_LENGTH = 200


def presented_key(
    request: Request,
    header_key: str | None,
    query_key: str | None,
    credentials: HTTPAuthorizationCredentials | None,
) -> str | None:
    candidates = (
        header_key,
        request.headers.get("API-Token"),
        credentials.credentials if credentials else None,
        query_key,
        request.query_params.get("api_token"),
    )
    return next((key.strip() for key in candidates if key and key.strip()), None)


async def current_principal(
    request: Request,
    header_key: Annotated[str | None, Security(api_key_header)],
    query_key: Annotated[str | None, Security(api_key_query)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Principal:
    key = presented_key(request, header_key, query_key, credentials)
    if key is None:
        raise Unauthorized("An API key is required: send it in the API-Key header.")
    keys: KeyResolver = request.app.state.keys
    principal = await keys.resolve(key) if len(key) <= MAX_KEY_LENGTH else None
    if principal is None:
        raise Unauthorized("The API key is not valid or has been revoked.")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
