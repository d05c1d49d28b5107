"""The OpenAPI document, told as the server really answers.

FastAPI documents a 422 "Validation Error" for every operation with parameters or a body; this
server never sends it (each family answers bad input with its own 400 or 406), so those entries
go. Every operation with a request body can be answered 413 by the body size cap, so that is
documented, in the shape of the operation's other errors. The key's schemes are declared once,
for every operation under the paths that need a key, and so are the 429 of the rate limits and
the 503 of overload and outages.
Under /api/ the ETag of JSON answers, If-None-Match (304), If-Match (412) and Idempotency-Key
(409, 422) are documented where each applies.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

FRAMEWORK_VALIDATION = ("HTTPValidationError", "ValidationError")
TOO_LARGE = "The request body is larger than the server accepts"
TOO_MANY = (
    "Too many requests: the key's budget, or its group's, is spent for now (nothing was done); "
    "try again after Retry-After seconds. Every answer to a keyed request carries the "
    "RateLimit-Policy and RateLimit fields (IETF draft-ietf-httpapi-ratelimit-headers)."
)
UNAVAILABLE = (
    "Overloaded, or the database is restarting or unreachable: nothing was done (unless the "
    "message says the change may have been saved); try again after Retry-After seconds."
)
RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 1},
}
RATE_LIMIT_HEADERS = {
    "Retry-After": {
        "description": "Seconds until the spent budget allows a request again.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimit-Policy": {
        "description": 'The budgets, such as `"key";q=600;w=60, "group";q=3000;w=60`: '
        "q requests per w seconds.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of each budget, such as `"key";r=0;t=42, "group";r=2890;'
        "t=42`: r more requests in the t seconds until it is renewed.",
        "schema": {"type": "string"},
    },
}


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


# Each family's error body, for an operation that documents no other error.
FAMILY_ERRORS = (("/api/v1.0/", "ErrorBody"), ("/", "CustomerApiErrorBody"))


def _family_error_content(
    responses: dict[str, Any], path: str, schemas: dict[str, Any]
) -> dict[str, Any] | None:
    """The body of the operation's other errors, or else its family's error body."""
    content = _error_content(responses)
    if content is None:
        name = next(name for prefix, name in FAMILY_ERRORS if path.startswith(prefix))
        if name in schemas:
            content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
    return content


def _document_load_answers(responses: dict[str, Any], path: str, schemas: dict[str, Any]) -> None:
    """A keyed operation may be answered 429 (its budget spent) or 503 (overloaded, or the
    database unreachable), in the shape of its other errors (or else of its family's)."""
    content = _family_error_content(responses, path, schemas)
    responses["429"] = {"description": TOO_MANY, "headers": RATE_LIMIT_HEADERS}
    responses.setdefault("503", {"description": UNAVAILABLE})
    responses["503"]["headers"] = {"Retry-After": RETRY_AFTER}
    if content:
        responses["429"]["content"] = content
        responses["503"]["content"] = content


def _header(name: str, description: str, **schema_extra: Any) -> dict[str, Any]:
    schema = {"type": "string", **schema_extra}
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": schema,
    }


IF_NONE_MATCH = _header("If-None-Match", "An ETag of an earlier answer: 304 while it is current.")
IF_MATCH = _header(
    "If-Match",
    "The ETag of the answer the change is based on: 412 (and nothing written) if the record "
    "changed since; `*`: only if the record exists.",
)
IDEMPOTENCY_KEY = _header(
    "Idempotency-Key",
    "A key of the client's making (1-255 visible ASCII characters), unique per operation: a "
    "retry with the same key and body gets the first successful answer again, marked "
    "`Idempotent-Replayed: true`, without the work being done twice.",
    minLength=1,
    maxLength=255,
    pattern="^[!-~]{1,255}$",
)
ETAG = {
    "ETag": {
        "description": "A digest of this answer, for If-None-Match and If-Match.",
        "schema": {"type": "string"},
    }
}
CONDITIONAL_ANSWERS = {
    "400": "Idempotency-Key: not 1 to 255 visible ASCII characters.",
    "304": "Not modified: the If-None-Match tag is current (no body).",
    "409": "Idempotency-Key: a request with this key is still being processed.",
    "412": "If-Match: the record changed since that version, or does not exist.",
    "422": "Idempotency-Key: the key was used for another request (method, path or body).",
}


def _document_safe_writes(method: str, operation: dict[str, Any]) -> None:
    """ETags on JSON answers, and the conditional and idempotency headers each method takes."""
    responses = operation["responses"]
    for status in ("200", "201"):
        if "application/json" in responses.get(status, {}).get("content", {}):
            responses[status].setdefault("headers", {}).update(ETAG)
    headers = {"get": [IF_NONE_MATCH], "put": [IF_MATCH, IDEMPOTENCY_KEY], "delete": [IF_MATCH]}
    headers["post"] = [IDEMPOTENCY_KEY]
    parameters = operation.setdefault("parameters", [])
    for header in headers.get(method, []):
        parameters.append(header)
    statuses = {
        "get": ["304"],
        "put": ["400", "409", "412", "422"],
        "delete": ["412"],
        "post": ["400", "409", "422"],
    }
    content = _error_content(responses)
    for status in statuses.get(method, []):
        answer = responses.setdefault(status, {"description": ""})
        text = CONDITIONAL_ANSWERS[status]
        answer["description"] = (
            f"{answer['description']} {text}".strip() if answer["description"] else text
        )
        if status != "304" and content and "content" not in answer:
            answer["content"] = content


# Pydantic names a generic model after its parameters (``PageOf_AssignmentRead_``).
_GENERIC_PAGE = re.compile(r"^PageOf_(\w+?)(?:Read)?_$")


def _name_pages(document: dict[str, Any]) -> dict[str, Any]:
    """The document with each list envelope named after what it lists (``AssignmentPage``), so
    that a generated client's classes have names a person would choose."""
    schemas = document.get("components", {}).get("schemas", {})
    renamed = {name: _GENERIC_PAGE.sub(r"\1Page", name) for name in schemas}
    renamed = {old: new for old, new in renamed.items() if old != new}
    if not renamed:
        return document
    text = json.dumps(document)
    for old, new in renamed.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    document = json.loads(text)
    schemas = document["components"]["schemas"]
    for old, new in renamed.items():
        schemas[new] = {**schemas.pop(old), "title": new}
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return document


def _tidy(document: dict[str, Any], security: "KeySecurity") -> None:
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "responses" in operation:
                _tidy_operation(operation)
                if path.startswith(security.prefixes):
                    operation["security"] = [{name: []} for name in security.schemes]
                    schemas = document.get("components", {}).get("schemas", {})
                    _document_load_answers(operation["responses"], path, schemas)
                if path.startswith("/api/"):
                    _document_safe_writes(method, operation)
    components = document.setdefault("components", {})
    components["securitySchemes"] = security.schemes
    schemas = document.get("components", {}).get("schemas", {})
    for name in FRAMEWORK_VALIDATION:
        schemas.pop(name, None)


@dataclass(frozen=True)
class KeySecurity:
    """The key's schemes (any one of them will do) and the paths that need a key."""

    schemes: dict[str, dict[str, Any]]
    prefixes: tuple[str, ...]


def document_as_served(app: FastAPI, security: KeySecurity) -> None:
    """Have ``app.openapi()`` (and so /openapi.json and /docs) return the tidied document."""
    framework_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = framework_openapi()
            _tidy(document, security)
            app.openapi_schema = _name_pages(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
