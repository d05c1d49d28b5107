"""The error types of the two API families and the one place they are rendered.

The family is chosen by the URL: ``/api/v1.0/...`` answers ``{"error", "error_description"}``
(as the customerEmployees API documents); everything else (``/api/1``, ``/vault``) answers
``{"success": false, "error", "message"}`` (as the Coredination customer API documents). Errors
the framework raises itself (validation, unknown routes, wrong methods, crashes) are translated
into the same shapes, so a client never sees another body.
"""

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("customer_api.errors")

ASSIGNMENTS_PREFIX = "/api/v1.0"
SERVER_ERROR_TEXT = "Oops! Something went wrong..."


class ApiError(Exception):
    """An answer other than success, with its status, code and text."""

    status_code: int = 500
    code: str = "server_error"
    headers: dict[str, str] | None = None

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": 'ApiKey header="API-Key"'}


class CustomerApiError(ApiError):
    """An error of the /api/1 and /vault family."""


class NotFound(CustomerApiError):
    status_code = 404
    code = "not_found"


class InvalidParameter(CustomerApiError):
    status_code = 400
    code = "invalid_parameter"


class InvalidBody(CustomerApiError):
    status_code = 406
    code = "invalid_body"


class Conflict(CustomerApiError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(CustomerApiError):
    status_code = 413
    code = "payload_too_large"


RETRY_AFTER_SECONDS = 2
UNAVAILABLE_TEXT = "The database is unavailable; nothing was changed. Try again in a few seconds."
BUSY_TEXT = "The server is busy; nothing was changed. Try again in a few seconds."
OUTCOME_UNKNOWN_TEXT = (
    "The database became unavailable while saving: the change may or may not have been saved. "
    "Read it back before trying again."
)


class ServiceUnavailable(ApiError):
    """503: the database is restarting, unreachable or out of connections (either family)."""

    status_code = 503
    code = "service_unavailable"
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}

    def __init__(self, message: str = UNAVAILABLE_TEXT, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class Overloaded(ServiceUnavailable):
    """503: no connection (or, on SQLite, no turn to write) came free in time."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(BUSY_TEXT, reason=reason)


# SQLSTATEs that say "the database is not there right now", not "the statement is wrong":
# class 08 (connection exceptions), 57P01-57P03 (shutting down, crashed, starting up),
# 53300 (too many connections).
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
# asyncpg's errors for a connection that went away or was left unusable by an operation cut
# off half-way (they carry no SQLSTATE); such a connection is discarded.
_LOST_CONNECTION_ERRORS = frozenset(
    {"ConnectionDoesNotExistError", "ConnectionFailureError", "InternalClientError"}
)
_SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those it was raised from or during (a driver's error is wrapped)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_unavailable(exc: BaseException) -> bool:
    """Whether an exception (or one it was raised from) means the database cannot be reached or
    is overloaded: a condition that passes, answered 503, never a 500."""
    return any(_means_unavailable(link) for link in _chain(exc))


def unavailable_error(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 a database failure stands for, or None when it is not one: no pooled connection
    came free in time (busy), or the database cannot be reached."""
    if isinstance(exc, sa_exc.TimeoutError):
        return Overloaded(f"no database connection came free: {exc}")
    if is_unavailable(exc):
        return ServiceUnavailable(
            reason=f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"
        )
    return None


def unique_violation(exc: BaseException) -> str | None:
    """The name of the unique constraint an error (or its cause) violated, if that is what it
    is (SQLSTATE 23505); for errors without a name, the database's message."""
    for link in _chain(exc):
        if getattr(link, "sqlstate", None) == "23505":
            return getattr(link, "constraint_name", None) or str(link)
    return None


def _means_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, (sa_exc.TimeoutError, TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if type(exc).__name__ in _LOST_CONNECTION_ERRORS:
        return True
    if type(exc).__name__ == "InterfaceError" and "connection is closed" in str(exc):
        return True
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(state, str) and (state.startswith("08") or state in _UNAVAILABLE_SQLSTATES):
        return True
    return type(exc).__name__ == "OperationalError" and str(exc).startswith(_SQLITE_BUSY)


def outcome_unknown(exc: Exception) -> ServiceUnavailable | None:
    """What a failed commit is reported as when the database went away during it: nobody can
    say whether the change was saved, and the answer says so. None for any other failure."""
    if is_unavailable(exc):
        return ServiceUnavailable(OUTCOME_UNKNOWN_TEXT, reason=f"commit failed: {exc}")
    return None


class AssignmentApiError(ApiError):
    """An error of the /api/v1.0 family; ``code`` is the documented ``error``."""

    status_code = 400


def is_assignments_path(path: str) -> bool:
    return path == ASSIGNMENTS_PREFIX or path.startswith(ASSIGNMENTS_PREFIX + "/")


def error_body(path: str, code: str, message: str) -> dict[str, Any]:
    if is_assignments_path(path):
        return {"error": code, "error_description": message}
    return {"success": False, "error": code, "message": message}


def error_response(
    request: Request,
    status_code: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(request.url.path, code, message), status_code=status_code, headers=headers
    )


def server_error_response(path: str) -> JSONResponse:
    """The 500 of the path's family; the cause goes to the log, never to the client."""
    return JSONResponse(error_body(path, "server_error", SERVER_ERROR_TEXT), status_code=500)


CUT_OFF_TEXT = (
    "The server is restarting and cut this request off. Try again in a few seconds; if it was a "
    "change, read it back first: it may or may not have been saved."
)


def unavailable_response(path: str, message: str, *, closing: bool = False) -> JSONResponse:
    """The 503 of the path's family, for middleware that answers without the app's handlers
    (no room for another request: BUSY_TEXT; cut off by a stop: CUT_OFF_TEXT, ``closing``)."""
    headers = ServiceUnavailable.headers
    if closing:
        headers = {**headers, "Connection": "close"}
    return JSONResponse(
        error_body(path, ServiceUnavailable.code, message), status_code=503, headers=headers
    )


def describe_location(loc: Sequence[str | int]) -> str:
    """``("body", "customerProjects", 0, "name")`` -> ``customerProjects[0].name``."""
    text = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def describe_validation(errors: Sequence[dict[str, Any]]) -> str:
    parts = []
    for error in errors[:5]:
        if error.get("type") == "json_invalid":
            parts.append(f"body is not valid JSON ({error.get('ctx', {}).get('error', 'syntax')})")
        else:
            parts.append(f"{describe_location(error.get('loc', ()))}: {error.get('msg')}")
    return "; ".join(parts)


# What a JSON object sent under another media type is told (curl -d sends form encoding
# unless told otherwise), in both families.
SEND_AS_JSON = "The request body must be a JSON object sent as Content-Type: application/json."


def media_type(request: Request) -> str:
    """The request's declared media type, lowercased, without parameters ("" when none)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json_media_type(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _customer_family_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    in_body = any(error.get("loc", ("",))[0] == "body" for error in errors)
    if in_body:
        malformed = any(error.get("type") == "json_invalid" for error in errors)
        code = "malformed_body" if malformed else "invalid_body"
        whole_body = any(tuple(error.get("loc", ())) == ("body",) for error in errors)
        media = media_type(request)  # none at all is read as JSON
        if whole_body and media and not is_json_media_type(media):
            return error_response(request, 406, code, SEND_AS_JSON)
        return error_response(request, 406, code, describe_validation(errors))
    return error_response(request, 400, "invalid_parameter", describe_validation(errors))


ValidationTranslator = Callable[[Request, RequestValidationError], JSONResponse]


_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def allowed_methods(request: Request) -> str | None:
    """Every method the OpenAPI document declares for the request's path template.

    The router only knows the methods of the one route it tried, while a path such as
    ``/api/1/customer/{customer_id}`` is served by several.
    """
    template = getattr(request.scope.get("route"), "path_format", None)
    operations = request.app.openapi().get("paths", {}).get(template)
    if not operations:
        return None
    return ", ".join(sorted(method.upper() for method in operations if method in _HTTP_METHODS))


def unparsable_body(exc: StarletteHTTPException) -> RequestValidationError | None:
    """FastAPI answers a body it could not even decode (not UTF-8, nested too deeply for the
    JSON parser) with a bare 400 caused by the decoder's error; that is a malformed body, and
    each family says so in its own way, as for broken JSON."""
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None or isinstance(cause, StarletteHTTPException):
        return None
    reason = {UnicodeDecodeError: "not UTF-8 text", RecursionError: "nested too deeply"}.get(
        type(cause), type(cause).__name__
    )
    error = {"type": "json_invalid", "loc": ("body", 0), "msg": "JSON decode error"}
    return RequestValidationError([{**error, "ctx": {"error": reason}}])


# The codes of the framework's own refusals (no route, wrong method, the body caps' and
# timeouts' refusals), in either family's body.
HTTP_ERROR_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
}


def http_refusal(exc: StarletteHTTPException) -> ApiError:
    """One of the framework's own refusals (no route, wrong method, a body cap or timeout) as
    the error it is answered with."""
    message = {404: "No such resource.", 405: "Method not allowed on this resource."}.get(
        exc.status_code, str(exc.detail)
    )
    code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
    error = ApiError(message, code=code, status_code=exc.status_code)
    error.headers = exc.headers
    return error


def refusal_response(
    path: str, exc: ApiError, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The answer to a refusal in the path's family (``headers`` added to the error's own);
    a 503 is logged, with its reason, for the operator."""
    if isinstance(exc, ServiceUnavailable):
        logger.warning("answered 503: %s", exc.reason or exc.message)
    if headers:
        headers = {**(exc.headers or {}), **headers}
    return JSONResponse(
        error_body(path, exc.code, exc.message),
        status_code=exc.status_code,
        headers=headers or exc.headers,
    )


def install_error_handlers(app: FastAPI, *, assignments_validation: ValidationTranslator) -> None:
    """The handlers of both families; ``assignments_validation`` renders the framework's
    validation errors in the /api/v1.0 family's codes (that family's code, passed in by the app:
    core knows no family)."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return refusal_response(request.url.path, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if is_assignments_path(request.url.path):
            return assignments_validation(request, exc)
        return _customer_family_validation(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if malformed := unparsable_body(exc):
            return await _validation(request, malformed)
        allow = allowed_methods(request) if exc.status_code == 405 else None
        return refusal_response(
            request.url.path, http_refusal(exc), {"Allow": allow} if allow else None
        )

    @app.exception_handler(sa_exc.TimeoutError)
    @app.exception_handler(sa_exc.DBAPIError)
    @app.exception_handler(ConnectionError)
    @app.exception_handler(TimeoutError)
    async def _database_error(request: Request, exc: Exception) -> JSONResponse:
        if unavailable := unavailable_error(exc):
            return await _api_error(request, unavailable)
        logger.exception("database error", exc_info=exc)
        return server_error_response(request.url.path)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return server_error_response(request.url.path)
