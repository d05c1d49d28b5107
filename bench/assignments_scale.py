"""How the /api/v1.0 lists hold up with many assignments in one group.

Fills a scratch database with N customers, each assigned to one of N/1000 employees (plus
another group's rows, so that scoping by group matters), then times the list, show
and write endpoints through the real app (in process, over httpx) and prints the median of a
few runs per request (and, with --explain MS, the plans of the requests that slow).

    PYTHONPATH=src python bench/assignments_scale.py postgresql://postgres@127.0.0.1:5432/scratch \\
        --assignments 1000000

The database is migrated to the newest revision and its assignment tables are emptied first:
give it a scratch database. Run by hand; not part of the test suite.
"""

import argparse
import asyncio
import statistics
import time

import httpx
from sqlalchemy import event, text

from customer_api.app import create_app
from customer_api.auth import service as auth_service
from customer_api.config import Settings
from customer_api.core import migrations

REQUESTS = [
    "/customerEmployees",
    "/customerEmployees?order=desc",
    "/customerEmployees?sort=id&order=desc",
    "/customerEmployees?sort=lastUpdated",
    "/customerEmployees?sort=customerReference",
    "/customerEmployees?sort=customerReference&order=desc",
    "/customerEmployees?sort=employeeReference",
    "/customerEmployees?sort=employeeReference&order=desc&max=1000",
    "/customerEmployees?customerReference=C-0001234",
    "/customerEmployees?customerReference=C-00012*",
    "/customerEmployees?customerReference=*99999",
    "/customerEmployees?customerReference=*4242*",
    "/customerEmployees?employeeReference=E-0042",
    "/customerEmployees?employeeReference=E-004*&sort=customerReference",
    "/customerEmployees?dateCreated_gte=2020-01-01T00:00:00Z&dateCreated_lt=2020-01-01T01:00:00Z",
    "/customerEmployees?lastUpdated_gt=2020-01-01T12:00:00Z&sort=lastUpdated&order=desc",
    "/customerEmployees?offset=500000&max=100",
    "/customerEmployees/{some_id}",
    "/customerEmployees/reference/{customer_ref}/{employee_ref}",
    "/customers?sort=name&max=100",
    "/customers?reference=C-00012*",
    "/customers?reference=*4242*",
    "/users?sort=reference",
]

# One group's rows: employees E-0001..., customers C-0000001... each assigned to an employee.
SEED_GROUP = """
INSERT INTO employees (group_id, reference, enabled, organization, created, modified)
SELECT :group, 'E-' || lpad(i::text, 4, '0'), true, 'Org ' || (i % 7), now(), now()
FROM generate_series(1, CAST(:employees AS int)) AS i;

INSERT INTO customers (uuid, group_id, name, customer_number, active, created, modified)
SELECT gen_random_uuid(), :group, 'Customer ' || i, 'C-' || lpad(i::text, 7, '0'), i % 10 <> 0,
       timestamptz '2020-01-01' + i * interval '1 second',
       timestamptz '2020-01-01' + i * interval '1 second'
FROM generate_series(1, CAST(:count AS int)) AS i;

INSERT INTO customer_employees (group_id, customer_id, employee_id, created, modified)
SELECT c.group_id, c.id, e.id, c.created, c.created + interval '1 hour'
FROM customers c
JOIN employees e ON e.group_id = c.group_id AND e.reference = 'E-' || lpad(
    (1 + substr(c.customer_number, 3)::int % CAST(:employees AS int))::text, 4, '0')
WHERE c.group_id = :group;
"""


async def seed(app, assignments: int, others: int) -> tuple[str, int]:
    database = app.state.database
    async with database.sessions() as session, session.begin():
        _, key = await auth_service.create_key(session, group_name="Bench A")
        _, _ = await auth_service.create_key(session, group_name="Bench B")
    async with database.engine.begin() as connection:
        groups = (await connection.execute(text("SELECT id FROM groups ORDER BY id"))).scalars()
        group_a, group_b = list(groups)[-2:]
        for group, count in ((group_a, assignments), (group_b, others)):
            parameters = {"group": group, "count": count, "employees": max(1, count // 1000)}
            for statement in SEED_GROUP.split(";"):
                if statement.strip():
                    await connection.execute(text(statement), parameters)
    # As autovacuum would leave them: statistics and visibility maps up to date.
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("employees", "customers", "customer_employees"):
            await connection.execute(text(f"VACUUM ANALYZE {table}"))
        some_id = await connection.scalar(
            text("SELECT max(id) FROM customer_employees WHERE group_id = :g"), {"g": group_a}
        )
    return key, some_id


async def empty(app) -> None:
    async with app.state.database.engine.begin() as connection:
        await connection.execute(
            text(
                "TRUNCATE route_visits, routes, customer_employees, employees, customer_projects,"
                " customers, api_keys, groups RESTART IDENTITY CASCADE"
            )
        )


class Recorder:
    """The SQL statements the app runs, to explain the slow requests."""

    def __init__(self, engine) -> None:
        self.statements: list[tuple[str, tuple]] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self.record)

    def record(self, _conn, _cursor, statement, parameters, *_args) -> None:
        self.statements.append((statement, parameters))


async def explain(app, statements: list[tuple[str, tuple]]) -> None:
    async with app.state.database.engine.connect() as connection:
        for statement, parameters in statements:
            if "api_keys" in statement or not statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, COSTS OFF) " + statement, parameters
            )
            for (line,) in plan:
                print("            " + line)


async def timed(client: httpx.AsyncClient, method: str, url: str, runs: int, **kwargs) -> float:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.request(method, url, **kwargs)
        durations.append((time.perf_counter() - started) * 1000)
        assert response.status_code < 300, (url, response.status_code, response.text[:300])
    return statistics.median(durations)


async def main(arguments: argparse.Namespace) -> None:
    url, assignments, runs = arguments.database_url, arguments.assignments, arguments.runs
    app = create_app(Settings(database_url=url, _env_file=None))
    async with app.router.lifespan_context(app):
        await empty(app)
        started = time.perf_counter()
        key, some_id = await seed(app, assignments, arguments.others)
        print(
            f"seeded {assignments} assignments (and {arguments.others} in another group) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        recorder = Recorder(app.state.database.engine)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers={"API-Key": key}
        ) as client:
            print(f"{'median ms':>10}  request")
            number = min(4242, assignments)
            names = {
                "some_id": some_id,
                "customer_ref": f"C-{number:07}",
                "employee_ref": f"E-{1 + number % max(1, assignments // 1000):04}",
            }
            for request in REQUESTS:
                path = "/api/v1.0" + request.format(**names)
                recorder.statements.clear()
                median = await timed(client, "GET", path, runs)
                print(f"{median:10.1f}  GET {request}")
                if arguments.explain is not None and median >= arguments.explain:
                    await explain(app, recorder.statements[: len(recorder.statements) // runs])
            body = {"userId": "E-0001", "customerId": "C-NEW", "useExternalId": True}
            await client.post("/api/1/customer", json={"name": "New", "customerNumber": "C-NEW"})
            created = await client.post("/api/v1.0/customerEmployees", json=body)
            new_id = created.json()["id"]
            move = {"userId": "E-0002", "customerId": "C-NEW", "useExternalId": True}
            put = await timed(
                client, "PUT", f"/api/v1.0/customerEmployees/{new_id}", runs, json=move
            )
            print(f"{put:10.1f}  PUT /customerEmployees/{{id}}")
            started = time.perf_counter()
            await client.delete(f"/api/v1.0/customerEmployees/{new_id}")
            print(
                f"{(time.perf_counter() - started) * 1000:10.1f}  DELETE /customerEmployees/{{id}}"
            )
        if not arguments.keep:
            await empty(app)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url", help="a scratch Postgres database")
    parser.add_argument("--assignments", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--others", type=int, default=10_000, help="rows of another group")
    parser.add_argument("--keep", action="store_true", help="leave the rows in place")
    parser.add_argument(
        "--explain", type=float, metavar="MS", help="print the plans of requests this slow"
    )
    arguments = parser.parse_args()
    migrations.upgrade(arguments.database_url)
    asyncio.run(main(arguments))
