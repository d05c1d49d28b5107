"""Fixtures of the /api/v1.0 tests: set timestamps or bulk rows straight in the database where
a test needs times or numbers the API cannot produce quickly (customers, users and assignments
made through the API are in tests/helpers.py)."""

from datetime import datetime

import pytest
from sqlalchemy import update

from customer_api.assignments.models import CustomerEmployee, Employee
from customer_api.core.timestamps import utcnow
from customer_api.customers.models import Customer


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
