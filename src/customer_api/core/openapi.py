"""The OpenAPI document, told as the server really answers.

FastAPI documents a 422 "Validation Error" for every operation with parameters or a body; this
server never sends it (each family answers bad input with its own 400 or 406), so those entries
go. Every operation with a request body can be answered 413 by the body size cap, so that is
documented, in the shape of the operation's other errors.
"""

from typing import Any

from fastapi import FastAPI

FRAMEWORK_VALIDATION = ("HTTPValidationError", "ValidationError")
TOO_LARGE = "The request body is larger than the server accepts"


def _error_content(responses: dict[str, Any]) -> dict[str, Any] | None:
    """The body of the operation's documented client errors (its family's shape)."""
    for status in sorted(responses):
        if status.startswith("4") and "content" in responses[status]:
            return responses[status]["content"]
    return None


def _tidy_operation(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    if "requestBody" in operation and "413" not in responses:
        responses["413"] = {"description": TOO_LARGE}
        if content := _error_content(responses):
            responses["413"]["content"] = content


def _tidy(document: dict[str, Any]) -> None:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                _tidy_operation(operation)
    schemas = document.get("components", {}).get("schemas", {})
    for name in FRAMEWORK_VALIDATION:
        schemas.pop(name, None)


def document_as_served(app: FastAPI) -> None:
    """Have ``app.openapi()`` (and so /openapi.json and /docs) return the tidied document."""
    framework_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _tidy(framework_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
