"""Helpers of the /api/v1.0 tests: make customers (through /api/1), users and assignments
through the API, and set timestamps or bulk rows straight in the database where a test needs
times or numbers the API cannot produce quickly."""

from datetime import datetime

import httpx
import pytest
from sqlalchemy import update

from customer_api.assignments.models import CustomerEmployee, Employee
from customer_api.core.timestamps import utcnow
from customer_api.customers.models import Customer

V1 = "/api/v1.0"


def assert_error(
    response: httpx.Response, status: int, code: str, description: str | None = None
) -> dict:
    """The family's error body, exactly ``{"error", "error_description"}``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == code, body
    assert isinstance(body["error_description"], str) and body["error_description"]
    if description is not None:
        assert body["error_description"] == description
    return body


async def make_customer(client: httpx.AsyncClient, reference: str | None, name: str = "", **fields):
    body = {"name": name or f"Customer {reference}", **fields}
    if reference is not None:
        body["customerNumber"] = reference
    response = await client.post("/api/1/customer", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def make_user(client: httpx.AsyncClient, reference: str, **fields):
    response = await client.post(f"{V1}/users", json={"reference": reference, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def assign(client: httpx.AsyncClient, user_id: int, customer_id: int):
    response = await client.post(
        f"{V1}/customerEmployees", json={"userId": user_id, "customerId": customer_id}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def make_route(client: httpx.AsyncClient, user_id: int, customer_ids: list[int], **fields):
    body = {"name": "Route", "userId": user_id, "customerIds": customer_ids, **fields}
    response = await client.post(f"{V1}/routes", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def set_times(app):
    """``await set_times(Model, id, created=..., modified=...)``: put a row at given moments."""

    async def setting(model, row_id: int, *, created: datetime, modified: datetime) -> None:
        async with app.state.database.sessions() as session, session.begin():
            await session.execute(
                update(model).where(model.id == row_id).values(created=created, modified=modified)
            )

    return setting


@pytest.fixture
def bulk_assign(app):
    """``await bulk_assign(group_id, count)``: one user and ``count`` assigned customers
    (references C-00000, C-00001, ...), inserted in one transaction."""

    async def inserting(group_id: int, count: int, *, user_reference: str = "U-BULK") -> None:
        now = utcnow()
        async with app.state.database.sessions() as session, session.begin():
            employee = Employee(
                group_id=group_id, reference=user_reference, created=now, modified=now
            )
            customers = [
                Customer(group_id=group_id, name=f"Bulk {index}", customer_number=f"C-{index:05}")
                for index in range(count)
            ]
            session.add(employee)
            session.add_all(customers)
            await session.flush()
            session.add_all(
                CustomerEmployee(
                    group_id=group_id,
                    customer_id=customer.id,
                    employee_id=employee.id,
                    created=now,
                    modified=now,
                )
                for customer in customers
            )

    return inserting
