"""Query-parameter conventions of the /api/1 family."""

from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import WithJsonSchema

from customer_api.core.errors import InvalidParameter
from customer_api.core.timestamps import MAX_EPOCH_MS, MIN_EPOCH_MS, parse_moment

MAX_PAGE = 1000

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


InactiveParam = Annotated[
    str | None,
    Query(
        description="If supplied, inactive customers are included. "
        + FLAG_DESCRIPTION.format(name="inactive")
    ),
]
LimitParam = Annotated[
    int, Query(ge=0, le=MAX_PAGE, description=f"At most this many objects (at most {MAX_PAGE}).")
]
OffsetParam = Annotated[int, Query(ge=0, le=2**53, description="Skip the first N objects.")]
