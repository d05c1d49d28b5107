"""GET /api/1/customer/search: HTTP in, service call, HTTP out.

Included before the customers router, so ``search`` is never read as a customer id.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from customer_api.auth.dependencies import CurrentPrincipal, current_principal
from customer_api.core.db import SessionDep
from customer_api.core.params import InactiveParam, LimitParam, flag, known_query_only
from customer_api.core.schemas import error_responses
from customer_api.search import service
from customer_api.search.analysis import (
    MAX_QUERY_LENGTH,
    MAX_QUERY_WORDS,
    MIN_PREFIX_LENGTH,
    NOT_ONLY_WHITE_SPACE,
)
from customer_api.search.backend import SearchBackend
from customer_api.search.schemas import CustomerSearchEntry

router = APIRouter(
    prefix="/api/1/customer",
    tags=["customers"],
    dependencies=[Depends(current_principal), Depends(known_query_only)],
    responses=error_responses(400),  # an unknown query parameter, on every operation
)

DEFAULT_LIMIT = 50


async def _backend(request: Request) -> SearchBackend:
    return request.app.state.search


SearchBackendDep = Annotated[SearchBackend, Depends(_backend)]


@router.get(
    "/search",
    summary="Search customers",
    description="Customers of the key's group matching any word of `q` (case-insensitive, "
    "whole words; the last word also as the start of a word, so `hor` finds *horse*), best "
    "first. Name and customer number weigh most, then e-mail and phone, then address, city "
    "and project names, then notes.",
    response_model=list[CustomerSearchEntry],
    responses={
        204: {"description": "No customer matches"},
        503: {"description": "The search engine is unavailable"},
        **error_responses(400),
    },
)
async def search_customers(
    principal: CurrentPrincipal,
    session: SessionDep,
    backend: SearchBackendDep,
    q: Annotated[
        str,
        Query(
            description=f"The words to look for (at most {MAX_QUERY_LENGTH} characters and "
            f"{MAX_QUERY_WORDS} different words; a last word shorter than {MIN_PREFIX_LENGTH} "
            "characters is matched whole only).",
            min_length=1,
            max_length=MAX_QUERY_LENGTH,
            json_schema_extra={"pattern": NOT_ONLY_WHITE_SPACE},
        ),
    ],
    inactive: InactiveParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> list[CustomerSearchEntry] | Response:
    found = await service.search_customers(
        session,
        backend=backend,
        group_id=principal.group_id,
        text=q,
        include_inactive=flag(inactive),
        limit=limit,
    )
    if not found:
        return Response(status_code=204)
    return [CustomerSearchEntry.of(item) for item in found]
