from dataclasses import dataclass
from uuid import UUID

from customer_api.core.schemas import CamelModel
from customer_api.customers.models import Customer


@dataclass(frozen=True)
class FoundCustomer:
    customer: Customer
    score: float


class CustomerSearchEntry(CamelModel):
    """A search hit: enough of the customer to show in a result list."""

    id: int
    uuid: UUID
    name: str
    customer_number: str | None
    address: str | None
    city: str | None
    active: bool
    score: float

    @classmethod
    def of(cls, found: FoundCustomer) -> "CustomerSearchEntry":
        customer = found.customer
        return cls(
            id=customer.id,
            uuid=customer.uuid,
            name=customer.name,
            customer_number=customer.customer_number,
            address=customer.address,
            city=customer.city,
            active=customer.active,
            score=found.score,
        )
