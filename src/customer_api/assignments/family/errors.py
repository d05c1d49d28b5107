"""The /api/v1.0 family's errors, with the codes and sentences of its documentation.

Each is rendered as ``{"error": code, "error_description": message}`` by the one handler in
``core.errors``.
"""

from collections.abc import Iterable

from customer_api.core.errors import AssignmentApiError


class InvalidParam(AssignmentApiError):
    code = "invalid_param"

    @classmethod
    def unknown(cls, names: Iterable[str]) -> "InvalidParam":
        listed = ", ".join(dict.fromkeys(names))
        return cls(f"The parameters [{listed}] you provided are not valid for this request.")

    @classmethod
    def value(cls, name: str, reason: str) -> "InvalidParam":
        return cls(f"The value of parameter {name} is not valid for this request: {reason}")


class InvalidParamType(AssignmentApiError):
    code = "invalid_param_type"

    def __init__(self, name: str, hint: str = "") -> None:
        """The documented sentence, and a hint after it when there is one to give."""
        sentence = f"The type of parameter {name} you provided is not valid for this request."
        super().__init__(f"{sentence} {hint}" if hint else sentence)


class InvalidDatetimeFormat(AssignmentApiError):
    code = "invalid_datetime_format"

    def __init__(self, value: str) -> None:
        super().__init__(f"Invalid datetime filter (not ISO-8601 formatted): [{value}]")


class MissingParam(AssignmentApiError):
    code = "missing_param"

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} parameter is missing")


class InvalidJson(AssignmentApiError):
    """The body is not JSON, or not a JSON object (the documentation names no code for it)."""

    code = "invalid_json"


class NotFound(AssignmentApiError):
    status_code = 404
    code = "not_found"

    @classmethod
    def of(cls, what: str, key: int | str) -> "NotFound":
        """``The user with the id 999 doesn't exist.``; a string key is a reference."""
        kind = "reference" if isinstance(key, str) else "id"
        return cls(f"The {what} with the {kind} {key} doesn't exist.")


class AlreadyAssigned(AssignmentApiError):
    code = "already_assigned"

    def __init__(self) -> None:
        super().__init__("customer is already assigned to employee.")


class NotUnique(AssignmentApiError):
    code = "not_unique"

    def __init__(self) -> None:
        super().__init__("reference already used")


class SaveFailed(AssignmentApiError):
    code = "save_failed"

    def __init__(self) -> None:
        super().__init__("Failed to save instance")


class DeleteFailed(AssignmentApiError):
    code = "delete_failed"

    def __init__(self) -> None:
        super().__init__("Failed to delete instance")


class SaveNotAuthorized(AssignmentApiError):
    code = "save_not_authorized"


class UpdateNotAuthorized(AssignmentApiError):
    code = "update_not_authorized"

    def __init__(self) -> None:
        super().__init__("the current customer and employee are assigned to route")


class DeleteNotAuthorized(AssignmentApiError):
    code = "delete_not_authorized"

    ON_ROUTE = "Customer and employee are assigned to route"
