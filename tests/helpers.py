"""What tests share: the databases to run on, keys and clients of groups, one way to empty
the tables, a customer or user made through the API as a client would make it, and the
command line run as an operator runs it."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text

import customer_api
from customer_api.auth import service as auth_service
from customer_api.core.db import Database
from customer_api.models import metadata

POSTGRES_URL = os.environ.get("CUSTOMER_API_TEST_DATABASE_URL", "").strip()
V1 = "/api/v1.0"
# This checkout's package, wherever a command runs from.
SOURCE_DIR = str(Path(customer_api.__file__).resolve().parents[1])


@dataclass
class Tenant:
    """A group with a key, and a client that sends that key."""

    group_id: int
    key: str
    client: httpx.AsyncClient

    @property
    def headers(self) -> dict[str, str]:
        return {"API-Key": self.key}


async def make_key(application, group_name: str) -> tuple[int, str]:
    return await create_group_key(application.state.database, group_name)


async def create_group_key(database: Database, group_name: str) -> tuple[int, str]:
    async with database.sessions() as session, session.begin():
        key, plain = await auth_service.create_key(session, group_name=group_name)
        return key.group_id, plain


def api_client(application, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """A client of the app in this process (over ASGI): answers, never raised exceptions."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application, raise_app_exceptions=False),
        base_url="http://testserver",
        headers=headers or {},
    )


_TABLES = [table.name for table in reversed(metadata.sorted_tables)]  # children first

# One round trip on Postgres: DELETE, which costs little on a table of a few rows where
# TRUNCATE makes new files for every table and index, then every id sequence back to its start
# (as TRUNCATE ... RESTART IDENTITY would).
_EMPTY_POSTGRES = text(
    "DO $$ DECLARE sequence record; BEGIN "
    + " ".join(f'DELETE FROM "{table}";' for table in _TABLES)
    + " FOR sequence IN SELECT s.seqrelid::regclass AS name, s.seqstart AS start"
    " FROM pg_sequence s JOIN pg_depend d ON d.classid = 'pg_class'::regclass"
    " AND d.objid = s.seqrelid AND d.deptype = 'a'"
    " WHERE d.refobjid = ANY (ARRAY["
    + ", ".join(f"'{table}'" for table in _TABLES)
    + "]::regclass[]) LOOP PERFORM setval(sequence.name, sequence.start, false); END LOOP;"
    " END $$"
)


async def empty_all_tables(database: Database) -> None:
    """Each test starts from empty tables, with ids from 1 again."""
    async with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            await connection.execute(_EMPTY_POSTGRES)
            return
        for table in _TABLES:
            await connection.execute(text(f'DELETE FROM "{table}"'))
        # AUTOINCREMENT's high-water marks: ids start at 1 again, as on Postgres.
        await connection.execute(text("DELETE FROM sqlite_sequence"))


async def create_customer(client: httpx.AsyncClient, name: str = "Wendy Warner", **fields) -> dict:
    """A customer made with POST /api/1/customer (``fields`` in the API's camelCase)."""
    response = await client.post("/api/1/customer", json={"name": name, **fields})
    assert response.status_code == 200, response.text
    return response.json()


def assert_error(
    response: httpx.Response, status: int, code: str, description: str | None = None
) -> dict:
    """The /api/v1.0 family's error body, exactly ``{"error", "error_description"}``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == code, body
    assert isinstance(body["error_description"], str) and body["error_description"]
    if description is not None:
        assert body["error_description"] == description
    return body


async def make_user(client: httpx.AsyncClient, reference: str, **fields) -> dict:
    response = await client.post(f"{V1}/users", json={"reference": reference, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def assign(client: httpx.AsyncClient, user_id: int, customer_id: int) -> dict:
    response = await client.post(
        f"{V1}/customerEmployees", json={"userId": user_id, "customerId": customer_id}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def make_route(
    client: httpx.AsyncClient, user_id: int, customer_ids: list[int], **fields
) -> dict:
    body = {"name": "Route", "userId": user_id, "customerIds": customer_ids, **fields}
    response = await client.post(f"{V1}/routes", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def run_cli(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """``customer-api ARGS`` in a process of its own, on a SQLite database in ``tmp_path``."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CUSTOMER_API_")},
        "PYTHONPATH": SOURCE_DIR,
        "CUSTOMER_API_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        **{f"CUSTOMER_API_{name.upper()}": value for name, value in settings.items()},
    }
    return subprocess.run(
        [sys.executable, "-m", "customer_api", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
