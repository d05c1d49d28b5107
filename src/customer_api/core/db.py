"""The engines, the declarative base and the one-session-per-request dependency.

A request holds a pooled connection only while it talks to the database:

- sessions are lazy (no connection until the first statement) and are closed before the response
  is sent, so a slow client reading an answer, or streaming a body in, holds none;
- reads (GET, HEAD) run in autocommit: no ``BEGIN``/``COMMIT`` round trips. On Postgres that
  sees what a READ COMMITTED transaction would (each statement its own snapshot); the hot reads
  are single statements anyway;
- writes run in one transaction, committed before the response is sent, so a 2xx is only ever
  sent for a change that reached the database;
- there is no pre-ping round trip per checkout: a connection found dead when used is discarded
  by the pool (the request answers 503, the next one gets a fresh connection);
- on Postgres the hot single statements (``Database.fetch``) use a pool of the driver's own,
  beside the engine's (``DATABASE_POOL_SIZE`` connections each): its checkout and return cost a
  fraction of the engine pool's.

On SQLite (one file, one writer at a time) the writers of a process take turns in arrival order
on a fair lock rather than in SQLite's busy-wait, and readers run beside them (WAL).
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import Depends, Request
from sqlalchemy import Executable, MetaData, Select, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from customer_api.core.errors import (
    Overloaded,
    ServiceUnavailable,
    outcome_unknown,
    unavailable_error,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_POOL_SIZE = 10
DEFAULT_POOL_TIMEOUT = 5.0
DRIVER_POOL_CLOSE_SECONDS = 5.0


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _tune_sqlite(dbapi_connection, _record) -> None:
    """Foreign keys on, WAL for concurrent readers, and no implicit transactions: the engine
    says when one begins (see ``_begin_immediately``)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    dbapi_connection.isolation_level = None


def _begin_immediately(connection) -> None:
    """Take SQLite's write lock when a transaction begins, not at its first write: another
    process's writer then makes this one wait (busy_timeout) instead of failing half-way with
    'database is locked'."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_engine(
    async_url: str, *, pool_size: int, pool_timeout: float, for_writes: bool
) -> AsyncEngine:
    _prepare_sqlite_file(async_url)
    engine = create_async_engine(
        async_url,
        connect_args={"timeout": 30},
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,
        # A reader's connection never has a transaction to roll back when it is handed back;
        # the rollback would still cost a trip to the driver's thread.
        pool_reset_on_return="rollback" if for_writes else None,
        json_serializer=_json_text,
        json_deserializer=orjson.loads,
    )
    event.listen(engine.sync_engine, "connect", _tune_sqlite)
    if for_writes:
        event.listen(engine.sync_engine, "begin", _begin_immediately)
    return engine


def _json_text(value: object) -> str:
    return orjson.dumps(value).decode()


def create_engine(
    async_url: str,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
) -> AsyncEngine:
    """The engine for writes (and, on Postgres, reads too)."""
    if async_url.startswith("sqlite"):
        return _sqlite_engine(
            async_url, pool_size=max(2, pool_size // 4), pool_timeout=pool_timeout, for_writes=True
        )
    # A fixed pool: a request holds at most one connection at a time, and connections made for
    # a burst and closed after it (an overflow) would cost a connect each, under load.
    return create_async_engine(
        async_url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,
        json_serializer=_json_text,
        json_deserializer=orjson.loads,
    )


class _CompiledRead:
    """A Core select compiled once for Postgres, with its parameters in the driver's order."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names = list(compiled.positiontup or ())
        self.processors = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.names
        ]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, process in zip(self.names, self.processors, strict=True):
            value = params[name]
            values.append(process(value) if process is not None else value)
        return values


class Database:
    """The engines and session factories an app (or a command) works with."""

    def __init__(
        self,
        async_url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    ) -> None:
        self.engine = create_engine(async_url, pool_size=pool_size, pool_timeout=pool_timeout)
        self.pool_size = pool_size
        self.pool_timeout = pool_timeout
        self._driver_pool_made: asyncio.Future[asyncpg.Pool] | None = None
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        if self.engine.dialect.name == "sqlite":
            self._read_engine = _sqlite_engine(
                async_url, pool_size=pool_size, pool_timeout=pool_timeout, for_writes=False
            )
            self._writer_turn: asyncio.Lock | None = asyncio.Lock()
        else:
            self._read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self._writer_turn = None
        self.read_sessions = async_sessionmaker(self._read_engine, expire_on_commit=False)
        self._compiled: dict[int, tuple[Select[Any], _CompiledRead]] = {}
        # Called with the SQL of each statement ``fetch`` sends straight to the driver (those
        # sent through the engines are seen by SQLAlchemy's own events).
        self.driver_statement_observers: list[Callable[[str], None]] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """Each engine with a pool of its own (Postgres reads share the writes' pool)."""
        return (self.engine, self._read_engine) if self.dialect == "sqlite" else (self.engine,)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only, in autocommit; its connection is returned on leaving."""
        async with self.read_sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed on leaving the block (rolled back on an error).

        A commit that fails for want of the database raises ServiceUnavailable saying that the
        outcome is unknown: the server cannot tell whether the change was applied.
        """
        async with self._turn_to_write(), self.sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            try:
                await session.commit()
            except Exception as exc:
                if unknown := outcome_unknown(exc):
                    raise unknown from exc
                raise

    @asynccontextmanager
    async def _turn_to_write(self) -> AsyncIterator[None]:
        """On SQLite, wait for this process's earlier writers (first come, first served)."""
        if self._writer_turn is None:
            yield
            return
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.pool_timeout):
                await self._writer_turn.acquire()
        except TimeoutError:
            waited = time.monotonic() - started
            raise Overloaded(f"waited {waited:.1f}s for a turn to write") from None
        try:
            yield
        finally:
            self._writer_turn.release()

    async def fetch(
        self, statement: Executable, *, writes: bool = False, **params: Any
    ) -> Sequence[Mapping[str, Any]]:
        """The rows of one statement (with ``bindparam`` parameters), as mappings: a read, or a
        write that is one statement (``writes=True``), atomic on its own.

        The hot paths come this way. On Postgres the statement, compiled once, goes straight to
        the asyncpg connection of a pooled connection: no session, no ORM, no transaction round
        trips. On SQLite a read goes through an autocommit connection of the read engine, a
        write through the writers' engine in its turn. Every value must be a parameter: column
        defaults computed in Python are not applied on the driver's path.
        """
        try:
            if self.dialect != "postgresql":
                return await self._fetch_on_engine(statement, params, writes=writes)
            compiled = self._compile(statement)
            for observe in self.driver_statement_observers:
                observe(compiled.sql)
            return await self._fetch_on_driver(compiled.sql, compiled.arguments(params))
        except ServiceUnavailable:
            raise
        except Exception as exc:
            # The driver's own errors would reach no handler: translate them here.
            if unavailable := unavailable_error(exc):
                raise unavailable from exc
            raise

    async def _fetch_on_engine(
        self, statement: Select[Any], params: Mapping[str, Any], *, writes: bool
    ) -> Sequence[Mapping[str, Any]]:
        if not writes:
            async with self._read_engine.connect() as connection:
                return (await connection.execute(statement, params)).mappings().all()
        async with self._turn_to_write(), self.engine.begin() as connection:
            return (await connection.execute(statement, params)).mappings().all()

    async def _fetch_on_driver(self, sql: str, arguments: list[Any]) -> Sequence[Mapping[str, Any]]:
        async with self.driver_connection() as connection:
            return await connection.fetch(sql, *arguments)

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of the driver's own pool (Postgres): checked out and back without the
        engine's pool bookkeeping, and never reset on return (nothing on this path changes a
        connection's state: single statements, no transactions). One left mid-statement
        (cancelled) or broken is closed rather than handed to the next request; a dead one is
        replaced by the pool when next checked out. No connection free in time is Overloaded."""
        pool = await self._driver_pool()
        try:
            # asyncio.timeout rather than acquire's own timeout, which runs it in a new task.
            async with asyncio.timeout(self.pool_timeout):
                connection = await pool.acquire()
        except TimeoutError as exc:
            raise Overloaded(f"no database connection came free in {self.pool_timeout}s") from exc
        try:
            yield connection
        except asyncpg.PostgresError:
            raise  # the database refused the statement; the connection is fine
        except BaseException:
            connection.terminate()
            raise
        finally:
            # Never suspends (no reset, see _keep_as_is), so a cancellation cannot cut it short.
            await pool.release(connection)

    async def _driver_pool(self) -> asyncpg.Pool:
        """Made on first use, in the running loop; it opens connections as they are needed."""
        if self._driver_pool_made is None:
            self._driver_pool_made = asyncio.ensure_future(self._make_driver_pool())
        try:
            return await asyncio.shield(self._driver_pool_made)
        except Exception:
            self._driver_pool_made = None
            raise

    async def _make_driver_pool(self) -> asyncpg.Pool:
        return await asyncpg.create_pool(
            self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False),
            min_size=0,
            max_size=self.pool_size,
            init=_decode_json_with_orjson,
            reset=_keep_as_is,
        )

    def _compile(self, statement: Select[Any]) -> _CompiledRead:
        """Compiled once per statement object (callers build their statements once)."""
        known = self._compiled.get(id(statement))
        if known is None or known[0] is not statement:
            known = (statement, _CompiledRead(statement, self.engine.dialect))
            self._compiled[id(statement)] = known
        return known[1]

    async def ping(self) -> None:
        async with self._read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        for engine in self.engines:
            await engine.dispose()
        if self._driver_pool_made is not None and self._driver_pool_made.done():
            pool = self._driver_pool_made.result()
            try:
                await asyncio.wait_for(pool.close(), DRIVER_POOL_CLOSE_SECONDS)
            except TimeoutError:
                pool.terminate()


async def _decode_json_with_orjson(connection: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, schema="pg_catalog", encoder=_json_text, decoder=orjson.loads
        )


async def _keep_as_is(_connection: asyncpg.Connection) -> None:
    """No reset on return to the pool: it would cost a round trip per request, for state that
    this path never changes."""


async def database_of(request: Request) -> Database:
    return request.app.state.database


DatabaseDep = Annotated[Database, Depends(database_of)]


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: autocommit for reads; for writes one transaction, committed
    when the handler returns and rolled back when it raises.

    Used with ``scope="function"`` so the session is closed (and a write committed) before the
    response is sent: no connection waits on a slow reader, and a client never sees a 2xx for a
    write that did not reach the database.
    """
    database: Database = request.app.state.database
    if request.method in SAFE_METHODS:
        async with database.reading() as session:
            yield session
    else:
        async with database.transaction() as session:
            yield session


SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]
