"""The family's JSON: request bodies (camelCase, unknown fields refused) and answers."""

from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from customer_api.assignments.models import REFERENCE_LENGTH, CustomerEmployee, Employee, Route
from customer_api.core.errors import ASSIGNMENTS_PREFIX
from customer_api.core.schemas import CamelInput, CamelModel, text_field
from customer_api.core.timestamps import to_iso_seconds
from customer_api.customers.models import Customer

MAX_ROUTE_STOPS = 1000

Reference = text_field(REFERENCE_LENGTH, min_length=1)
Name = text_field(255, min_length=1)
Text255 = text_field(255)
Text100 = text_field(100)


# A flag in a body (useExternalId, enabled) is read leniently, as clients of this family send
# it: a JSON boolean, 0 or 1, or a word in any case. Documented as exactly that.
_TRUE_WORDS = "[Tt][Rr][Uu][Ee]|[Yy][Ee][Ss]|[Oo][Nn]|[TtYy1]"
_FALSE_WORDS = "[Ff][Aa][Ll][Ss][Ee]|[Nn][Oo]|[Oo][Ff][Ff]|[FfNn0]"
_FLAG_FORMS = [
    {"type": "boolean"},
    {"type": "integer", "minimum": 0, "maximum": 1},
    {"type": "string", "pattern": f"^(?:{_TRUE_WORDS}|{_FALSE_WORDS})$"},
]
# The values that mean true (what a condition on a flag has to match).
_TRUE_SCHEMA = {
    "anyOf": [
        {"const": True},
        {"type": "integer", "const": 1},
        {"type": "string", "pattern": f"^(?:{_TRUE_WORDS})$"},
    ]
}
LenientFlag = Annotated[
    bool,
    WithJsonSchema(
        {
            "anyOf": _FLAG_FORMS,
            "description": "true, false, 1, 0, or true/yes/on/t/y, false/no/off/f/n in any case",
        }
    ),
]
OptionalLenientFlag = Annotated[
    bool | None, WithJsonSchema({"anyOf": [*_FLAG_FORMS, {"type": "null"}]})
]


def _whole_number(value: object) -> object:
    """7.0 is the id 7, as JSON Schema's integer includes it; true, "7" and 7.5 stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An id (a whole number) or, with useExternalId, a reference (a string; a number is read as one).
IdOrReference = Annotated[
    Annotated[StrictInt, BeforeValidator(_whole_number)] | Reference,
    Field(examples=[777, "U-001"], description="An id, or a reference when useExternalId is true"),
]
# After validation: an int is an id, a str is a reference.
Key = int | str


def designate(value: int | str, *, external: bool) -> Key:
    """Read a client's id field as an id (int) or, with useExternalId, a reference (str)."""
    if external:
        return str(value)
    if isinstance(value, int):
        return value
    if value.isascii() and value.isdigit():
        return int(value)
    raise PydanticCustomError(
        "id_type", 'An id is a whole number; to give a reference, add "useExternalId": true.'
    )


# What ``designate`` accepts as an id: a whole number, or its digits in a string.
ID_SCHEMA = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]+$"}]}


def _ids_or_references(schema: dict[str, Any], model: type["DesignatingInput"]) -> None:
    """Document the rule: without useExternalId the designating fields take ids only; with
    ``useExternalId: true`` they take references (a number is read as one).

    Said as ``if``/``else`` (OpenAPI 3.1's JSON Schema): validators and fuzzers apply it, and a
    client generator, which cannot model the condition, still sees one plain object."""
    by_id: dict[str, Any] = {}
    for name in model.DESIGNATING:
        field = schema["properties"][name]
        by_id[name] = {"items": ID_SCHEMA} if field.get("type") == "array" else ID_SCHEMA
    schema["if"] = {"properties": {"useExternalId": _TRUE_SCHEMA}, "required": ["useExternalId"]}
    schema["else"] = {"properties": by_id}


class DesignatingInput(CamelInput):
    """A body whose ``userId``/``customerId`` fields are ids, or references with useExternalId.

    ``useExternalId`` is declared first so that it is read before the fields it governs.
    """

    model_config = ConfigDict(json_schema_extra=_ids_or_references)
    DESIGNATING: ClassVar[tuple[str, ...]] = ()

    use_external_id: OptionalLenientFlag = Field(
        default=None, description="true: userId and customerId(s) are references"
    )

    @staticmethod
    def _external(info: ValidationInfo) -> bool:
        return bool(info.data.get("use_external_id"))


class AssignmentWrite(DesignatingInput):
    """Assign a customer to an employee (create), or reassign (update)."""

    DESIGNATING = ("userId", "customerId")
    user_id: IdOrReference
    customer_id: IdOrReference

    @field_validator("user_id", "customer_id")
    @classmethod
    def _designate(cls, value: int | str, info: ValidationInfo) -> Key:
        return designate(value, external=cls._external(info))


class UserUpdate(CamelInput):
    """An employee's fields; on update, fields left out stay as they are."""

    reference: Reference = None  # type: ignore[assignment]  # absent: unchanged; null: refused
    first_name: Text255 | None = None
    last_name: Text255 | None = None
    email: Text255 | None = None
    mobile: Text100 | None = None
    enabled: LenientFlag = True
    organization: Text255 | None = None

    def given(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class UserCreate(UserUpdate):
    reference: Reference


class RouteUpdate(DesignatingInput):
    """A route's fields; on update, fields left out stay (``customerIds`` replaces the stops)."""

    DESIGNATING = ("userId", "customerIds")
    reference: Reference | None = None
    name: Name = None  # type: ignore[assignment]
    user_id: IdOrReference = None  # type: ignore[assignment]
    customer_ids: list[IdOrReference] = Field(
        default_factory=list,
        max_length=MAX_ROUTE_STOPS,
        description="The customers the route visits, in order",
    )

    @field_validator("user_id")
    @classmethod
    def _designate_user(cls, value: int | str, info: ValidationInfo) -> Key:
        return designate(value, external=cls._external(info))

    @field_validator("customer_ids")
    @classmethod
    def _designate_customers(cls, values: list[int | str], info: ValidationInfo) -> list[Key]:
        return [designate(value, external=cls._external(info)) for value in values]


class RouteCreate(RouteUpdate):
    name: Name
    user_id: IdOrReference


# Answers


def _href(kind: str, id: int) -> str:
    return f"{ASSIGNMENTS_PREFIX}/{kind}/{id}"


class UserLink(CamelModel):
    id: int
    reference: str
    href: str

    @classmethod
    def of(cls, employee: Employee) -> "UserLink":
        return cls(id=employee.id, reference=employee.reference, href=_href("users", employee.id))


class CustomerLink(CamelModel):
    id: int
    reference: str | None
    name: str
    href: str

    @classmethod
    def of(cls, customer: Customer) -> "CustomerLink":
        return cls(
            id=customer.id,
            reference=customer.customer_number,
            name=customer.name,
            href=_href("customers", customer.id),
        )


# ISO-8601 UTC, whole seconds, shown last as the documentation shows them.
DateCreated = Annotated[str, Field(examples=["2016-08-22T09:42:11Z"])]
LastUpdated = Annotated[str, Field(examples=["2016-08-22T10:38:40Z"])]


class AssignmentRead(CamelModel):
    id: int
    customer_reference: str | None
    employee_reference: str
    customer: CustomerLink
    user: UserLink
    organization: str | None = Field(description="The employee's organization")
    date_created: DateCreated
    last_updated: LastUpdated

    @classmethod
    def of(cls, assignment: CustomerEmployee) -> "AssignmentRead":
        customer, employee = assignment.customer, assignment.employee
        return cls(
            id=assignment.id,
            customer_reference=customer.customer_number,
            employee_reference=employee.reference,
            customer=CustomerLink.of(customer),
            user=UserLink.of(employee),
            organization=employee.organization,
            date_created=to_iso_seconds(assignment.created),
            last_updated=to_iso_seconds(assignment.modified),
        )


class UserRead(CamelModel):
    id: int
    reference: str
    first_name: str | None
    last_name: str | None
    email: str | None
    mobile: str | None
    enabled: bool
    organization: str | None
    date_created: DateCreated
    last_updated: LastUpdated

    @classmethod
    def of(cls, employee: Employee) -> "UserRead":
        return cls(
            id=employee.id,
            reference=employee.reference,
            first_name=employee.first_name,
            last_name=employee.last_name,
            email=employee.email,
            mobile=employee.mobile,
            enabled=employee.enabled,
            organization=employee.organization,
            date_created=to_iso_seconds(employee.created),
            last_updated=to_iso_seconds(employee.modified),
        )


class CustomerRecord(CamelModel):
    """A customer of /api/1 as this family shows it (``reference`` is its customerNumber).

    Not ``CustomerRead``: /api/1 has one, and the public document needs one name per schema.
    """

    id: int
    reference: str | None
    name: str
    email: str | None
    phone: str | None
    mobile: str | None
    address: str | None
    postal_code: str | None
    city: str | None
    country: str | None
    latitude: float | None
    longitude: float | None
    is_active: bool
    organization: str | None
    date_created: DateCreated
    last_updated: LastUpdated

    @classmethod
    def of(cls, customer: Customer) -> "CustomerRecord":
        return cls(
            id=customer.id,
            reference=customer.customer_number,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            mobile=customer.mobile,
            address=customer.address,
            postal_code=customer.postal_code,
            city=customer.city,
            country=customer.country,
            latitude=customer.latitude,
            longitude=customer.longitude,
            is_active=customer.active,
            organization=customer.organization,
            date_created=to_iso_seconds(customer.created),
            last_updated=to_iso_seconds(customer.modified),
        )


class RouteRead(CamelModel):
    id: int
    reference: str | None
    name: str
    user_id: int
    user: UserLink
    customer_ids: list[int] = Field(description="The customers visited, in order")
    customers: list[CustomerLink]
    date_created: DateCreated
    last_updated: LastUpdated

    @classmethod
    def of(cls, route: Route) -> "RouteRead":
        customers = [visit.customer for visit in route.visits]
        return cls(
            id=route.id,
            reference=route.reference,
            name=route.name,
            user_id=route.employee.id,
            user=UserLink.of(route.employee),
            customer_ids=[customer.id for customer in customers],
            customers=[CustomerLink.of(customer) for customer in customers],
            date_created=to_iso_seconds(route.created),
            last_updated=to_iso_seconds(route.modified),
        )


Item = TypeVar("Item")


class Paging(BaseModel):
    total: int
    max: int
    offset: int
    previous: str | None = Field(
        examples=["/api/v1.0/customerEmployees?max=5&sort=dateCreated&order=desc&offset=0"]
    )
    next: str | None


class PageOf(BaseModel, Generic[Item]):
    """The family's list envelope."""

    paging: Paging
    data: list[Item]


class DeletedRead(CamelModel):
    """A deleted record's tombstone: what a list answers when asked for ``dateDeleted_*``."""

    id: int
    reference: str | None = Field(
        description="Its reference when it was deleted (an assignment's: customer and user "
        "references joined by `/`; none for one deleted with its customer)."
    )
    date_deleted: Annotated[str, Field(examples=["2016-08-22T10:38:40Z"])]

    @classmethod
    def of(cls, tombstone: Any) -> "DeletedRead":
        return cls(
            id=tombstone.resource_id,
            reference=tombstone.reference,
            date_deleted=to_iso_seconds(tombstone.deleted),
        )


class Deleted(BaseModel):
    success: str = "true"
    success_description: str = "Instance deleted successfully"


class ErrorBody(BaseModel):
    """Every failure of this family."""

    error: str = Field(examples=["not_found"])
    error_description: str = Field(
        examples=["The customer employee with the id 999 doesn't exist."]
    )


def error_responses(*statuses: int | str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for this family's failures (401 and 4XX always; the
    family never answers the framework's 422)."""
    described = {
        400: "A parameter is missing, unknown, of the wrong type or not allowed",
        401: "No API key, or an unknown or revoked one",
        404: "No such resource in the key's group",
        "4XX": "Any other client error (unknown route, wrong method)",
    }
    return {
        status: {"model": ErrorBody, "description": described[status]}
        for status in (401, *statuses, "4XX")
    }
