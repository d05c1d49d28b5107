"""The app over httpx on every database this machine has: SQLite always, Postgres when
CUSTOMER_API_TEST_DATABASE_URL is set. Databases are built by running the migrations."""

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import make_url

from customer_api.app import create_app
from customer_api.auth.rate_limits import request_limiter
from customer_api.config import Settings
from customer_api.core import migrations
from tests.helpers import POSTGRES_URL, Tenant, api_client, empty_all_tables, make_key

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


# A test marked so (or a module, with ``pytestmark = pytest.mark.own_app``) runs an app of its
# own rather than the shared one: one that changes the app itself (a route, its search backend).
OWN_APP = "own_app"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: contract fuzzing and real processes; `-m 'not slow'` leaves them out"
    )
    config.addinivalue_line(
        "markers", f"{OWN_APP}: each test runs an app of its own rather than the shared one"
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


@pytest.fixture(scope="session")
def shared_vault_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The vault directory of every test's settings: emptied before each test."""
    return tmp_path_factory.mktemp("vault")


@pytest.fixture
def settings(database_url: str, shared_vault_dir: Path) -> Settings:
    shutil.rmtree(shared_vault_dir, ignore_errors=True)
    return Settings(
        database_url=database_url,
        vault_dir=shared_vault_dir,
        elasticsearch_url=None,
        _env_file=None,
    )


class RunningApps:
    """At most one app running, kept from test to test while the settings stay the same (a
    module with settings of its own gets an app of its own). Its lifespan runs in a task of its
    own, so that it starts and ends in one task, as under a server."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def app_for(self, settings: Settings) -> FastAPI:
        if self.app is not None and self.app.state.settings != settings:
            await self.stop()
        if self.app is None:
            await self._start(create_app(settings))
        await self.app.state.vault.prepare()  # the settings fixture emptied the directory
        return self.app

    async def _start(self, application: FastAPI) -> None:
        started = asyncio.Event()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(application, started))
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait([self._task, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if self._task.done():
            self._task.result()  # the lifespan failed: its exception, here
        self.app = application

    async def _run(self, application: FastAPI, started: asyncio.Event) -> None:
        async with application.router.lifespan_context(application):
            started.set()
            await self._stop.wait()

    async def after_test(self) -> None:
        """Empty tables and a new rate limiter (group ids start at 1 in every test, so counts
        would carry over). When the tables cannot be emptied the app is stopped: the next test
        starts a new one."""
        assert self.app is not None
        state = self.app.state
        try:
            await empty_all_tables(state.database)
        except BaseException:
            await self.stop()
            raise
        if state.rate_limiter is not None:
            state.rate_limiter.close()
            state.rate_limiter = request_limiter(state.settings)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()
        task, self._task, self.app = self._task, None, None
        await task


@pytest.fixture(scope="session")
async def running_apps() -> AsyncIterator[RunningApps]:
    apps = RunningApps()
    yield apps
    await apps.stop()


@pytest.fixture(autouse=True)
async def no_app_in_the_background(request: pytest.FixtureRequest, running_apps: RunningApps):
    """A test that runs no shared app (it makes its own, or a server) has the database to
    itself: no app left running by an earlier test polls it meanwhile."""
    if "app" not in request.fixturenames or request.node.get_closest_marker(OWN_APP):
        await running_apps.stop()


@pytest.fixture
async def app(request: pytest.FixtureRequest, settings: Settings, running_apps: RunningApps):
    """The app, running: the one of the session for these settings (started on first use and
    kept while the settings stay the same), or one of the test's own where it is marked
    ``own_app``. Tables are emptied after the test."""
    if request.node.get_closest_marker(OWN_APP):
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            try:
                yield application
            finally:
                await empty_all_tables(application.state.database)
        return
    application = await running_apps.app_for(settings)
    try:
        yield application
    finally:
        await running_apps.after_test()


@pytest.fixture
async def anonymous(app) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app) as client:
        yield client


@pytest.fixture
async def acme(app) -> AsyncIterator[Tenant]:
    group_id, key = await make_key(app, "Acme")
    async with api_client(app, {"API-Key": key}) as client:
        yield Tenant(group_id, key, client)


@pytest.fixture
async def globex(app) -> AsyncIterator[Tenant]:
    group_id, key = await make_key(app, "Globex")
    async with api_client(app, {"API-Key": key}) as client:
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
