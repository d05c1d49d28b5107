"""The ``customer-api`` command: serve, migrate, keys, reindex, indexer, dead-letters."""

import asyncio
import contextlib
import logging
import os
import signal
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.progress import MofNCompleteColumn, Progress, TaskID
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.auth import service as auth_service
from customer_api.config import Settings, get_settings
from customer_api.core import migrations
from customer_api.core.db import Database
from customer_api.core.logs import configure_logging, logging_config
from customer_api.core.metrics import MULTIPROCESS_DIR_VARIABLE
from customer_api.search import outbox
from customer_api.search import service as search_service
from customer_api.search.elastic import ElasticError, ElasticIndex, IndexSetupError, RebuildFailed
from customer_api.search.indexer import Indexer

app = typer.Typer(help="Customer API server and administration.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

T = TypeVar("T")


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work in a committed transaction, the way a request does."""

    async def run() -> T:
        database = Database(settings.async_database_url)
        try:
            async with database.sessions() as session, session.begin():
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _migrate(settings: Settings) -> None:
    migrations.upgrade(settings.database_url)


@app.command()
def migrate(revision: Annotated[str, typer.Option(help="Target revision")] = "head") -> None:
    """Bring the database schema up to date."""
    migrations.upgrade(get_settings().database_url, revision)
    typer.echo(f"database at revision {revision}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes")] = None,
) -> None:
    """Migrate the database, then serve the API with uvicorn."""
    import uvicorn

    settings = get_settings()
    configure_logging(settings.log_level)
    _migrate(settings)
    host = host or settings.host
    port = port if port is not None else settings.port
    _index_existing_customers(settings)
    workers = workers or settings.workers
    first_key = _in_transaction(settings, _first_key_if_none)
    if first_key:
        _print_first_key(first_key, host, port)
    if workers > 1:
        _prepare_multiprocess_metrics()
    uvicorn.run(
        "customer_api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        log_config=logging_config(settings.log_level),
        access_log=False,
        # uvicorn's protocol, with a deadline for a request's headers (slow clients).
        http="customer_api.serving:HeaderDeadlineProtocol",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # Requests in flight get this long to finish after SIGTERM; then they are cut off.
        timeout_graceful_shutdown=settings.shutdown_timeout,
        # A worker still importing on a busy machine is not killed as unresponsive.
        timeout_worker_healthcheck=settings.worker_start_timeout,
    )


def _prepare_multiprocess_metrics() -> None:
    """Let every worker write its metrics to one directory that /metrics adds up.

    The directory must start empty: an operator-given one is cleared, else a new one is made.
    Set before the workers start, as prometheus-client reads it when first imported.
    """
    given = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
    else:
        os.environ[MULTIPROCESS_DIR_VARIABLE] = tempfile.mkdtemp(prefix="customer-api-metrics-")


async def _first_key_if_none(session: AsyncSession) -> str | None:
    """A key for group "default" on a new database, so ``serve`` alone gets a newcomer going."""
    if await auth_service.count_keys(session):
        return None
    _, plain = await auth_service.create_key(session, group_name="default")
    return plain


def _print_first_key(key: str, host: str, port: int) -> None:
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo("No API key existed, so one was made for group 'default'. It is shown only once:")
    typer.echo(f"\n    {key}\n")
    typer.echo("Try it:")
    typer.echo(f"    curl -H 'API-Key: {key}' http://{shown_host}:{port}/api/1/customer\n")


@keys_app.command("create")
def keys_create(
    group: Annotated[str, typer.Option(help="Group (tenant) name; created if new")],
) -> None:
    """Make a key for a group. The key is printed once, alone on the last line."""
    name = group.strip()
    if not name or len(name) > 200:
        raise typer.BadParameter("the group name must be 1 to 200 characters", param_hint="--group")
    settings = get_settings()
    _migrate(settings)

    async def create(session: AsyncSession) -> tuple[int, str]:
        key, plain = await auth_service.create_key(session, group_name=name)
        return key.id, plain

    key_id, plain = _in_transaction(settings, create)
    typer.echo(f"created key {key_id} for group {name!r}; store it now, it is not shown again:")
    typer.echo(plain)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (never the keys themselves: only their first characters)."""
    settings = get_settings()
    _migrate(settings)
    keys = _in_transaction(settings, auth_service.list_keys)
    typer.echo(f"{'ID':>5}  {'PREFIX':<12}  {'CREATED':<20}  {'STATUS':<8}  GROUP")
    for key in keys:
        status = "revoked" if key.revoked else "active"
        created = key.created.strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(f"{key.id:>5}  {key.prefix + '…':<12}  {created:<20}  {status:<8}  {key.group}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's ID (see keys list)")],
) -> None:
    """Revoke a key: requests with it answer 401 from now on."""
    settings = get_settings()
    _migrate(settings)

    async def revoke(session: AsyncSession) -> bool:
        return await auth_service.revoke_key(session, key_id=key_id)

    if not _in_transaction(settings, revoke):
        typer.echo(f"no key with ID {key_id}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"key {key_id} revoked")


class _ProgressBar:
    """A rich progress bar fed by a search rebuild."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def begin(self, description: str, total: int) -> None:
        self.task = self.progress.add_task(description, total=total)

    def advance(self, count: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, count)


async def _rebuild(settings: Settings, *, only_if_empty: bool) -> tuple[str, int | None]:
    database = Database(settings.async_database_url)
    backend = search_service.choose_backend(settings, database)
    try:
        with Progress(
            *Progress.get_default_columns(), MofNCompleteColumn(), transient=only_if_empty
        ) as progress:
            bar = _ProgressBar(progress)
            if only_if_empty:
                return backend.name, await search_service.rebuild_if_empty(database, backend, bar)
            return backend.name, await backend.rebuild(database, bar)
    finally:
        await backend.close()
        await database.dispose()


def _index_existing_customers(settings: Settings) -> None:
    """Fill a database-native index that is empty while customers exist (the first start
    after an upgrade), so search works without a separate step."""
    if settings.elasticsearch_url:
        return
    name, indexed = asyncio.run(_rebuild(settings, only_if_empty=True))
    if indexed:
        typer.echo(f"indexed {indexed} existing customers for search ({name})")


@app.command()
def reindex() -> None:
    """Rebuild the search index from the database, with a progress bar.

    Database search is rewritten in place; Elasticsearch gets a new index, and the alias moves
    to it once it is complete. Searching keeps working throughout.
    """
    settings = get_settings()
    _migrate(settings)
    try:
        name, indexed = asyncio.run(_rebuild(settings, only_if_empty=False))
    except (*ElasticError, RebuildFailed, IndexSetupError) as exc:
        typer.echo(f"reindex failed: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"indexed {indexed} customers ({name})")


@app.command()
def indexer() -> None:
    """Send customer changes to Elasticsearch until stopped (Ctrl-C or SIGTERM).

    ``serve`` runs one inside each worker already; run this for more throughput, or alone with
    CUSTOMER_API_INDEXER_IN_PROCESS=false. Several may run at once.
    """
    settings = get_settings()
    if not settings.elasticsearch_url:
        typer.echo(
            "CUSTOMER_API_ELASTICSEARCH_URL is not set: database search is kept current by "
            "each change itself and needs no indexer.",
            err=True,
        )
        raise typer.Exit(code=2)
    configure_logging(settings.log_level)
    # The client logs each failed connection with a traceback; the indexer says it once.
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    _migrate(settings)
    asyncio.run(_run_indexer(settings))


async def _run_indexer(settings: Settings) -> None:
    database = Database(settings.async_database_url)
    index = ElasticIndex.connect(settings.elasticsearch_url or "", settings.elasticsearch_index)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        with contextlib.suppress(*ElasticError):
            try:
                await index.ensure()
            except IndexSetupError as exc:
                typer.echo(f"search index: {exc}", err=True)
        typer.echo(f"indexer running: {settings.elasticsearch_url} alias {index.alias}")
        await Indexer(database, index).run(stop)
    finally:
        await index.close()
        await database.dispose()


dead_letters_app = typer.Typer(
    help="Search changes Elasticsearch refused too often (set aside by the indexer).",
    no_args_is_help=True,
)
app.add_typer(dead_letters_app, name="dead-letters")


@dead_letters_app.command("list")
def dead_letters_list() -> None:
    """List dead letters: the entry, its customer, since when, and Elasticsearch's last answer."""
    settings = get_settings()
    _migrate(settings)
    entries = _in_transaction(settings, outbox.dead_letters)
    typer.echo(f"{'ID':>8}  {'CUSTOMER':>9}  {'TRIES':>5}  {'DEAD SINCE':<20}  LAST ERROR")
    for entry in entries:
        since = entry.dead_since.strftime("%Y-%m-%d %H:%M:%S") if entry.dead_since else ""
        typer.echo(
            f"{entry.id:>8}  {entry.customer_id:>9}  {entry.attempts:>5}  {since:<20}  "
            f"{entry.last_error or ''}"
        )
    typer.echo(f"{len(entries)} dead letter(s)")


@dead_letters_app.command("retry")
def dead_letters_retry(
    entry_ids: Annotated[
        list[int] | None, typer.Argument(help="Entry IDs (see dead-letters list); all if none")
    ] = None,
) -> None:
    """Put dead letters back in line for the indexer (after fixing what Elasticsearch refused)."""
    settings = get_settings()
    _migrate(settings)

    async def retry(session: AsyncSession) -> int:
        return await outbox.retry_dead_letters(session, entry_ids or None)

    typer.echo(f"{_in_transaction(settings, retry)} dead letter(s) back in line")


def main() -> None:
    app()
