"""Pydantic building blocks shared by the domains: camelCase models, safe text, error bodies."""

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
)
from pydantic.alias_generators import to_camel
from sqlalchemy import inspect

JsonObject = dict[str, Any]

# Postgres refuses NUL in text and no client means it, so no string may carry one.
NO_NUL = r"^[^\x00]*$"


def text_field(max_length: int, *, min_length: int = 0) -> type[str]:
    """A string type that is stripped, bounded and free of NUL characters."""
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(
            strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=NO_NUL
        ),
    ]


def model_values(instance: Any) -> dict[str, Any]:
    """A model's column values by attribute name: what a row of its table reads as, so that
    one JSON builder serves both."""
    return {attr.key: getattr(instance, attr.key) for attr in inspect(instance).mapper.column_attrs}


def _json_number(value: object) -> object:
    """JSON Schema's integer is a number without a fraction (5 or 5.0), never "5" or true."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


# As the document declares them: 5 or 5.0 for an integer (not "5"), true (not 1 or "yes").
Int32 = Annotated[int, Field(ge=1, le=2**31 - 1), BeforeValidator(_json_number)]
Flag = StrictBool


def _no_default_in_schema(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable(**constraints: Any) -> Any:
    """A field a client may leave out but may not set to null (e.g. a name, a flag)."""
    return Field(default=None, json_schema_extra=_no_default_in_schema, **constraints)


def bounded_float(low: float, high: float) -> type[float]:
    """A finite JSON number within the bounds (an integer is a number too; a string is not)."""
    return Annotated[float, Strict(), Field(ge=low, le=high, allow_inf_nan=False)]  # type: ignore[return-value]


class CamelModel(BaseModel):
    """JSON in camelCase, as both source APIs write it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class CamelInput(CamelModel):
    """A request body: unknown fields are refused rather than silently dropped."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_max_length=100_000
    )


class CustomerApiErrorBody(BaseModel):
    """The error body of the /api/1 and /vault family."""

    success: bool = False
    error: str = Field(examples=["not_found"])
    message: str = Field(examples=["No customer with id 42."])


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI ``responses`` entries for the /api/1 family's error statuses."""
    described = {
        400: "A query parameter is invalid or unknown",
        401: "No API key, or an unknown or revoked one",
        404: "No such resource in the key's group",
        406: "The body is malformed or fails validation",
        409: "Conflicts with existing data",
        413: "The upload exceeds the size limit",
    }
    return {
        status: {"model": CustomerApiErrorBody, "description": described[status]}
        for status in (401, *statuses)
    }
