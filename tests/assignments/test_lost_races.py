"""What a write answers when the database refuses it after the checks passed (another request
won the race): the constraint stands, and the client gets the family's error, never a 500.

The races are staged by writing the conflicting rows directly, then flushing as the service
does after its checks."""

import pytest

from customer_api.assignments.family.errors import AlreadyAssigned, DeleteFailed, SaveFailed
from customer_api.assignments.family.statements import delete, flush
from customer_api.assignments.models import CustomerEmployee, Employee
from customer_api.core.timestamps import utcnow
from customer_api.customers.models import Customer


@pytest.fixture
async def rows(app, acme):
    """An employee and a customer of Acme, already assigned."""
    now = utcnow()
    async with app.state.database.sessions() as session, session.begin():
        employee = Employee(group_id=acme.group_id, reference="U", created=now, modified=now)
        customer = Customer(group_id=acme.group_id, name="C")
        session.add_all([employee, customer])
        await session.flush()
        session.add(
            CustomerEmployee(
                group_id=acme.group_id,
                customer_id=customer.id,
                employee_id=employee.id,
                created=now,
                modified=now,
            )
        )
    return employee.id, customer.id


def assignment(group_id: int, employee_id: int, customer_id: int) -> CustomerEmployee:
    now = utcnow()
    return CustomerEmployee(
        group_id=group_id,
        customer_id=customer_id,
        employee_id=employee_id,
        created=now,
        modified=now,
    )


async def test_a_second_assignment_of_the_customer_is_already_assigned(app, acme, rows) -> None:
    employee_id, customer_id = rows
    async with app.state.database.sessions() as session:
        session.add(assignment(acme.group_id, employee_id, customer_id))
        with pytest.raises(AlreadyAssigned):
            await flush(session, on_duplicate=AlreadyAssigned())


async def test_a_customer_deleted_meanwhile_is_save_failed(app, acme, rows) -> None:
    employee_id, _ = rows
    async with app.state.database.sessions() as session:
        session.add(assignment(acme.group_id, employee_id, 424242))
        with pytest.raises(SaveFailed) as failure:
            await flush(session, on_duplicate=AlreadyAssigned())
    assert failure.value.code == "save_failed"
    assert failure.value.message == "Failed to save instance"


async def test_a_user_assigned_meanwhile_is_delete_failed(app, rows) -> None:
    employee_id, _ = rows
    async with app.state.database.sessions() as session:
        employee = await session.get(Employee, employee_id)
        with pytest.raises(DeleteFailed) as failure:
            await delete(session, employee)
    assert failure.value.code == "delete_failed"
    assert failure.value.message == "Failed to delete instance"
