"""The family's answer to requests the framework refuses while reading them.

FastAPI reports a malformed or invalid body, and an invalid query or path value, as a list of
pydantic errors; the family answers with one error in the codes of its documentation.
"""

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from customer_api.assignments.family.errors import (
    AssignmentApiError,
    InvalidJson,
    InvalidParam,
    InvalidParamType,
    MissingParam,
)
from customer_api.core.errors import (
    SEND_AS_JSON,
    error_response,
    is_json_media_type,
    media_type,
)

_SOURCES = ("body", "query", "path", "header")


def translate_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    error = family_error(exc.errors(), sent_as_json=_sent_as_json(request))
    return error_response(request, error.status_code, error.code, error.message)


def _sent_as_json(request: Request) -> bool:
    """A JSON media type, or none at all (this family reads such a body as JSON)."""
    media = media_type(request)
    return not media or is_json_media_type(media)


def family_error(
    errors: Sequence[dict[str, Any]], *, sent_as_json: bool = True
) -> AssignmentApiError:
    """The one error to report, most fundamental first: not JSON, not an object, unknown
    parameters, missing ones, then the first parameter with a wrong type or value."""
    if any(error["type"] == "json_invalid" for error in errors):
        return InvalidJson("The request body is not valid JSON.")
    if any(_parameter(error) is None for error in errors):
        if not sent_as_json:
            return InvalidJson(SEND_AS_JSON)
        return InvalidJson("The request body must be a JSON object.")
    unknown = [_parameter(error) for error in errors if error["type"] == "extra_forbidden"]
    if unknown:
        return InvalidParam.unknown(unknown)
    for error in errors:
        if error["type"] == "missing" or _is_null_parameter(error):
            return MissingParam(_parameter(error))
    name, problems = next(iter(_by_parameter(errors).items()))
    # A union (an id or a reference) reports one error per member: a value of the right type
    # for one member is judged by that member's error.
    judged = [error for error in problems if not _is_type_error(error["type"])]
    if not judged:
        # A reference given without useExternalId: say how to give one.
        hint = next((error["msg"] for error in problems if error["type"] == "id_type"), "")
        return InvalidParamType(name, hint)
    return InvalidParam.value(name, f"{judged[0]['msg']}.")


def _by_parameter(errors: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for error in errors:
        grouped.setdefault(_parameter(error) or "body", []).append(error)
    return grouped


def _parameter(error: dict[str, Any]) -> str | None:
    """The top-level parameter an error is about (``customerIds`` for ``customerIds[2]``)."""
    location = error.get("loc", ())
    if location and location[0] in _SOURCES:
        location = location[1:]
    if not location or not isinstance(location[0], str):
        return None
    return location[0]


def _is_null_parameter(error: dict[str, Any]) -> bool:
    """``"userId": null`` is a missing userId (a null inside a list is a wrong type)."""
    location = error.get("loc", ())
    return error.get("input", "") is None and not any(isinstance(part, int) for part in location)


def _is_type_error(kind: str) -> bool:
    return kind.endswith(("_type", "_parsing")) or kind in ("int_from_float", "is_instance_of")
