"""On Postgres, wildcard filters that do not start with a fixed prefix are served by the
trigram indexes (pg_trgm) rather than by reading all of a group's rows."""

import pytest
from sqlalchemy import select, text

from customer_api.assignments.family.statements import text_condition
from customer_api.assignments.models import Employee
from customer_api.customers.models import Customer
from tests.helpers import create_group_key

ROWS = 20_000

FILL = [
    """INSERT INTO customers (uuid, group_id, name, customer_number, active, created, modified)
       SELECT gen_random_uuid(), :group_id, 'Customer ' || n, 'C-' || lpad(n::text, 7, '0'),
              true, now(), now()
       FROM generate_series(1, :rows) AS n""",
    """INSERT INTO employees (group_id, reference, enabled, created, modified)
       SELECT :group_id, 'E-' || lpad(n::text, 7, '0'), true, now(), now()
       FROM generate_series(1, :rows) AS n""",
    # As autovacuum would after a bulk load: statistics, and the GIN indexes' pending entries
    # moved into the index proper.
    "VACUUM ANALYZE customers",
    "VACUUM ANALYZE employees",
]


@pytest.mark.parametrize(
    ("column", "pattern", "index"),
    [
        (Customer.customer_number, "*4242*", "ix_customers_customer_number_trgm"),
        (Customer.customer_number, "*19999", "ix_customers_customer_number_trgm"),
        (Customer.name, "*er 1234*", "ix_customers_name_trgm"),
        (Employee.reference, "*04242", "ix_employees_reference_trgm"),
    ],
)
async def test_suffix_and_infix_filters_use_a_trigram_index(
    app, backend, column, pattern, index
) -> None:
    if backend != "postgres":
        pytest.skip("trigram indexes exist on Postgres only; SQLite reads the group's rows")
    database = app.state.database
    group_id, _ = await create_group_key(database, "Acme")
    statement = select(column.table.c.id).where(
        column.table.c.group_id == group_id, text_condition(column, pattern)
    )
    sql = statement.compile(dialect=database.engine.dialect, compile_kwargs={"literal_binds": True})
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        for fill in FILL:
            await connection.execute(text(fill), {"group_id": group_id, "rows": ROWS})
        plan = "\n".join(await connection.scalars(text(f"EXPLAIN {sql}")))
    assert index in plan, plan
