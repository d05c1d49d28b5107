from collections.abc import Iterable, Mapping
from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from customer_api.core.schemas import (
    CamelInput,
    CamelModel,
    Flag,
    Int32,
    JsonObject,
    bounded_float,
    model_values,
    omittable,
    text_field,
)
from customer_api.core.timestamps import to_epoch_ms
from customer_api.customers.models import Customer
from customer_api.documents.schemas import DocumentItem, DocumentRead, document_json

Name = text_field(255, min_length=1)
Latitude = bounded_float(-90, 90)
Longitude = bounded_float(-180, 180)


class CustomerProjectWrite(CamelInput):
    id: Int32 | None = None
    uuid: UUID | None = None
    name: Name
    active: Flag = omittable()


class CustomerWrite(CamelInput):
    """A Customer object as a client sends it. Fields left out are left alone on update.

    ``name`` and ``active`` may be left out but not be null: a customer always has both.
    """

    name: Name = omittable()
    customer_number: text_field(100) | None = None
    organization_number: text_field(100) | None = None
    email: text_field(255) | None = None
    phone: text_field(100) | None = None
    mobile: text_field(100) | None = None
    address: text_field(500) | None = None
    postal_code: text_field(50) | None = None
    city: text_field(255) | None = None
    country: text_field(100) | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    notes: text_field(20_000) | None = None
    organization: text_field(255) | None = None
    active: Flag = omittable()
    customer_projects: list[CustomerProjectWrite] | None = Field(default=None, max_length=1000)
    documents: list[DocumentItem] | None = Field(default=None, max_length=1000)

    # Read-only: accepted so a client may send back what it read, and ignored.
    id: Any = Field(default=None, exclude=True, json_schema_extra={"readOnly": True})
    uuid: Any = Field(default=None, exclude=True, json_schema_extra={"readOnly": True})
    created: Any = Field(default=None, exclude=True, json_schema_extra={"readOnly": True})
    modified: Any = Field(default=None, exclude=True, json_schema_extra={"readOnly": True})
    group_id: Any = Field(default=None, exclude=True, json_schema_extra={"readOnly": True})

    READ_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"id", "uuid", "created", "modified", "group_id"}
    )

    def given_fields(self) -> dict[str, Any]:
        """The writable fields the client actually sent, with their values."""
        return {
            name: getattr(self, name)
            for name in self.model_fields_set - self.READ_ONLY - {"customer_projects", "documents"}
        }


class CustomerCreate(CustomerWrite):
    """A new customer: the name is required."""

    name: Name


class CustomerProjectRead(CamelModel):
    id: int
    uuid: UUID
    name: str
    active: bool


class CustomerRead(CamelModel):
    """The list representation of a customer (the detail adds its documents)."""

    id: int
    uuid: UUID
    name: str
    customer_number: str | None
    organization_number: str | None
    email: str | None
    phone: str | None
    mobile: str | None
    address: str | None
    postal_code: str | None
    city: str | None
    country: str | None
    latitude: float | None
    longitude: float | None
    notes: str | None
    organization: str | None
    active: bool
    customer_projects: list[CustomerProjectRead]
    created: int = Field(description="Epoch milliseconds, UTC")
    modified: int = Field(description="Epoch milliseconds, UTC")


def customer_json(customer: Mapping[str, Any], projects: Iterable[Mapping[str, Any]]) -> JsonObject:
    """The list representation, ready for JSON, from a row (or a model's values).

    Built directly rather than through model validation: listing a thousand customers is a hot
    path, and this is several times faster. CustomerRead documents the same shape, and a test
    holds the two together.
    """
    return {
        "id": customer["id"],
        "uuid": str(customer["uuid"]),
        "name": customer["name"],
        "customerNumber": customer["customer_number"],
        "organizationNumber": customer["organization_number"],
        "email": customer["email"],
        "phone": customer["phone"],
        "mobile": customer["mobile"],
        "address": customer["address"],
        "postalCode": customer["postal_code"],
        "city": customer["city"],
        "country": customer["country"],
        "latitude": customer["latitude"],
        "longitude": customer["longitude"],
        "notes": customer["notes"],
        "organization": customer["organization"],
        "active": customer["active"],
        "customerProjects": [
            {"id": p["id"], "uuid": str(p["uuid"]), "name": p["name"], "active": p["active"]}
            for p in projects
        ],
        "created": to_epoch_ms(customer["created"]),
        "modified": to_epoch_ms(customer["modified"]),
    }


class CustomerDetail(CustomerRead):
    """The detail representation: the list one plus the customer's documents."""

    documents: list[DocumentRead]


def customer_detail_json(customer: Customer) -> JsonObject:
    """The detail representation of a model whose projects and documents are loaded."""
    return detail_json(
        model_values(customer),
        [model_values(project) for project in customer.projects],
        [model_values(link.document) for link in customer.document_links],
    )


def detail_json(
    customer: Mapping[str, Any],
    projects: Iterable[Mapping[str, Any]],
    documents: Iterable[Mapping[str, Any]],
) -> JsonObject:
    """The detail representation, ready for JSON, from rows (CustomerDetail's shape)."""
    return {
        **customer_json(customer, projects),
        "documents": [document_json(document) for document in documents],
    }


class DeletedCustomer(CamelModel):
    """A deleted customer's tombstone."""

    id: int
    uuid: UUID
    customer_number: str | None
    deleted: int = Field(description="When it was deleted, in epoch milliseconds.")
