"""The app over httpx on every database this machine has: SQLite always, Postgres when
CUSTOMER_API_TEST_DATABASE_URL is set. Databases are built by running the migrations."""

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from customer_api.app import create_app
from customer_api.auth import service as auth_service
from customer_api.config import Settings
from customer_api.core import migrations
from customer_api.core.db import Database
from customer_api.models import metadata

POSTGRES_URL = os.environ.get("CUSTOMER_API_TEST_DATABASE_URL", "").strip()
BACKENDS = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]

# Marked slow, and left out by `pytest -m "not slow"` (the quick run, README: Development): the
# contract fuzzing and the tests that start and stop real server, database or proxy processes.
SLOW_MODULES = frozenset(
    {
        "tests/operations/test_contract.py",
        "tests/operations/test_database_restart.py",
        "tests/operations/test_isolation.py",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: contract fuzzing and real processes; `-m 'not slow'` leaves them out"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.split("::")[0] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


_first_place_of_skip: dict[str, tuple[str, int | None]] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """One summary line per skip reason, with its count, rather than one per skipped test."""
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        path, line, reason = report.longrepr
        path, line = _first_place_of_skip.setdefault(reason, (path, line))
        report.longrepr = (path, line, reason)
    return report


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database at the newest revision; Postgres is first taken down to base, so the
    downgrades run too."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        url = POSTGRES_URL
        migrations.upgrade(url)
        migrations.downgrade(url, "base")
    migrations.upgrade(url)
    return url


@pytest.fixture
def backend(database_url: str) -> str:
    return (
        "postgres" if make_url(database_url).get_backend_name().startswith("postgres") else "sqlite"
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        vault_dir=tmp_path / "vault",
        elasticsearch_url=None,
        _env_file=None,
    )


@pytest.fixture
async def app(settings: Settings):
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await empty_all_tables(application.state.database)


async def empty_all_tables(database: Database) -> None:
    """Each test starts from empty tables (and, on Postgres, fresh id sequences)."""
    tables = [table.name for table in reversed(metadata.sorted_tables)]
    async with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f'DELETE FROM "{table}"'))
            # AUTOINCREMENT's high-water marks: ids start at 1 again, as on Postgres.
            await connection.execute(text("DELETE FROM sqlite_sequence"))


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


def _client(application, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application, raise_app_exceptions=False),
        base_url="http://testserver",
        headers=headers or {},
    )


@pytest.fixture
async def anonymous(app) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as client:
        yield client


@pytest.fixture
async def acme(app) -> AsyncIterator[Tenant]:
    group_id, key = await make_key(app, "Acme")
    async with _client(app, {"API-Key": key}) as client:
        yield Tenant(group_id, key, client)


@pytest.fixture
async def globex(app) -> AsyncIterator[Tenant]:
    group_id, key = await make_key(app, "Globex")
    async with _client(app, {"API-Key": key}) as client:
        yield Tenant(group_id, key, client)


@pytest.fixture
def client(acme: Tenant) -> httpx.AsyncClient:
    """The client of group Acme: the default caller of a test."""
    return acme.client


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(app):
    """``with count_statements() as counter:`` counts the SQL the app runs inside the block."""

    @contextmanager
    def counting() -> Iterator[StatementCounter]:
        counter = StatementCounter()
        database = app.state.database
        engines = [engine.sync_engine for engine in database.engines]

        def record(_conn, _cursor, statement, *_args) -> None:
            counter.statements.append(statement)

        for engine in engines:
            event.listen(engine, "before_cursor_execute", record)
        database.driver_statement_observers.append(counter.statements.append)
        try:
            yield counter
        finally:
            database.driver_statement_observers.remove(counter.statements.append)
            for engine in engines:
                event.remove(engine, "before_cursor_execute", record)

    return counting
