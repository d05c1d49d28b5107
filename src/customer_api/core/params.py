"""Query-parameter conventions of the /api/1 family."""

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import WithJsonSchema
from starlette.convertors import Convertor, register_url_convertor

from customer_api.core.errors import InvalidParameter
from customer_api.core.timestamps import MAX_EPOCH_MS, MIN_EPOCH_MS, parse_moment

MAX_PAGE = 1000
"""The largest page in both families (/api/1 refuses more, /api/v1.0 serves this many)."""

FLAG_DESCRIPTION = "A flag: true when present (`?{name}`), unless its value is `false` or `0`."


def flag(value: str | None) -> bool:
    """``?inactive`` and ``?inactive=true`` mean yes; absent, ``false`` and ``0`` mean no."""
    return value is not None and value.strip().lower() not in ("false", "0")


def moment_param(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value)
    except ValueError:
        raise InvalidParameter(
            f"{name}: {value!r} is not a date (2015-10-05), an ISO-8601 timestamp "
            "or epoch milliseconds."
        ) from None


# What moment_param reads, told exactly in the OpenAPI document so clients and generators know.
MOMENT_SCHEMA = {
    "anyOf": [
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
        {"type": "integer", "minimum": MIN_EPOCH_MS, "maximum": MAX_EPOCH_MS},
    ]
}

MomentSchema = WithJsonSchema(MOMENT_SCHEMA)
"""Annotate a moment query parameter (a ``str | None``) with it, beside its ``Query``."""
MAX_MOMENT_LENGTH = 64


# Any value is accepted (only `false` and `0` turn it off), so the document says string: a
# boolean would call ``?inactive`` and ``?inactive=yes`` wrong, and they are not.
InactiveParam = Annotated[
    str | None,
    Query(
        description="If supplied, inactive customers are included. "
        + FLAG_DESCRIPTION.format(name="inactive"),
        openapi_examples={
            "on": {"summary": "include inactive customers", "value": "true"},
            "off": {"summary": "active customers only (as leaving it out)", "value": "false"},
        },
    ),
    WithJsonSchema({"type": "string"}),
]
LimitParam = Annotated[
    int, Query(ge=0, le=MAX_PAGE, description=f"At most this many objects (at most {MAX_PAGE}).")
]
OffsetParam = Annotated[int, Query(ge=0, le=2**53, description="Skip the first N objects.")]


# The key may travel as a query parameter on every request.
KEY_PARAMETERS = frozenset({"api_key", "api_token"})


def _declared_query(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared_query(sub)
    return names


async def known_query_only(request: Request) -> None:
    """400 naming every query parameter the endpoint does not take: ``?limt=5`` is a typo to
    point out, not a request for everything (/api/v1.0 does the same with its own codes).

    A router dependency listed after the key's, so that a caller without a key learns nothing.
    """
    route: APIRoute = request.scope["route"]
    unknown = [name for name in request.query_params if name not in KEY_PARAMETERS]
    if not unknown:
        return
    declared = _declared_query(route.dependant)
    unknown = [name for name in unknown if name not in declared]
    if unknown:
        taken = ", ".join(sorted(declared)) or "none"
        raise InvalidParameter(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
            f"(this endpoint takes: {taken})."
        )


class CustomerRefConvertor(Convertor[str]):
    """A path segment that is a customer's id or UUID, and nothing else: so that
    ``/customer/search`` with another method than GET is 405, not a customer called "search"."""

    regex = (
        "[0-9]{1,18}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    )

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


# Routes name it as ``{customer_id:customer_ref}``.
register_url_convertor("customer_ref", CustomerRefConvertor())
