"""The ``customer-api`` command: serve, migrate, keys, reindex, indexer, dead-letters,
webhooks."""

import asyncio
import contextlib
import logging
import os
import signal
import socket
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.progress import MofNCompleteColumn, Progress, TaskID
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api import __version__
from customer_api.auth import service as auth_service
from customer_api.config import Settings, get_settings
from customer_api.core import migrations, startup
from customer_api.core.db import Database
from customer_api.core.logs import configure_logging, logging_config
from customer_api.core.metrics import MULTIPROCESS_DIR_VARIABLE
from customer_api.search import outbox
from customer_api.search import service as search_service
from customer_api.search.elastic import ElasticError, ElasticIndex, IndexSetupError, RebuildFailed
from customer_api.search.indexer import Indexer
from customer_api.webhooks.dispatcher import Dispatcher
from customer_api.webhooks.running import policy_of

app = typer.Typer(
    no_args_is_help=True,
    # Plain help: option metavars instead of rich's <str> and <bool> columns.
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
_debug = False


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"customer-api {__version__}")
        raise typer.Exit()


@app.callback()
def _common(
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the whole traceback when a command fails to start."),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Customer API: the server and its administration.

    Settings come from environment variables named CUSTOMER_API_*; README.md lists them all.
    Unless CUSTOMER_API_DATABASE_URL and CUSTOMER_API_VAULT_DIR say otherwise, the database and
    the vault live in ./data under the current folder; every command prints the ones it uses.
    """
    global _debug
    _debug = debug


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


def _migrate(settings: Settings, *, create: bool = True) -> None:
    """Say which database and vault this command uses, then bring the schema up to date.

    Without ``create``, an SQLite file that does not exist yet is refused rather than made:
    a key made in a new empty database is a key no running server knows.
    """
    _print_location(settings)
    if not create and (path := _missing_sqlite_file(settings)):
        lines = [f"customer-api: there is no database at {path}."]
        if "CUSTOMER_API_DATABASE_URL" not in os.environ:
            lines[0] += (
                " CUSTOMER_API_DATABASE_URL is unset, so the database is ./data/customer-api.db"
                " under the current folder."
            )
        lines.append(
            "Run this in the folder where customer-api serve runs, or set"
            " CUSTOMER_API_DATABASE_URL to its database (keys create --new-database makes a new"
            " one here)."
        )
        raise startup.StartupFailure(*lines)
    migrations.upgrade(settings.database_url)


def _print_location(settings: Settings) -> None:
    database = startup.database_location(settings.database_url)
    vault = settings.vault_dir.expanduser().resolve()
    typer.echo(f"database: {database}", err=True)
    typer.echo(f"vault:    {vault}", err=True)


def _missing_sqlite_file(settings: Settings) -> str | None:
    if not settings.is_sqlite:
        return None
    path = startup.database_location(settings.database_url)
    return None if path.startswith(":") or Path(path).exists() else path


@app.command()
def migrate(
    revision: Annotated[
        str, typer.Option("--revision", help="The revision to go to.", metavar="REVISION")
    ] = "head",
) -> None:
    """Bring the database schema up to date.

    Makes the database if it does not exist yet. (serve does this by itself on start.)
    """
    settings = get_settings()
    _print_location(settings)
    migrations.upgrade(settings.database_url, revision)
    typer.echo(f"database at revision {revision}")


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="The address to listen on.",
            metavar="ADDRESS",
            show_default="CUSTOMER_API_HOST, else 127.0.0.1",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            help="The port to listen on.",
            metavar="PORT",
            show_default="CUSTOMER_API_PORT, else 8000",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="How many worker processes serve requests.",
            metavar="N",
            show_default="CUSTOMER_API_WORKERS, else 1",
        ),
    ] = None,
) -> None:
    """Serve the API (migrating the database first).

    On a database without any API key, a key for group "default" is made and printed once.
    """
    import uvicorn

    settings = get_settings()
    configure_logging(settings.log_level)
    _migrate(settings)
    host = host or settings.host
    port = port if port is not None else settings.port
    _prepare_vault(settings)
    _check_port_free(host, port)
    _index_existing_customers(settings)
    workers = workers or settings.workers
    first_key = _in_transaction(settings, _first_key_if_none)
    _print_welcome(first_key, host, port)
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


def _print_welcome(key: str | None, host: str, port: int) -> None:
    """On stderr, apart from the log lines that follow: the first key in a box, with the docs
    page and a first call that shows something; on a later start, how to get a key."""
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    base = f"http://{shown_host}:{port}"
    if key is None:
        typer.echo(
            f"API documentation: {base}/docs. A new API key: customer-api keys create"
            " --group NAME (run where this server runs, or with the same"
            " CUSTOMER_API_DATABASE_URL).",
            err=True,
        )
        return
    rule = "=" * 78
    lines = [
        rule,
        '  No API key existed, so one was made for group "default".',
        "  It is shown only this once; store it now:",
        "",
        f"      {key}",
        "",
        f"  API documentation: {base}/docs (Authorize with the key)",
        "  Try it: create a customer, then list the customers:",
        "",
        f"      curl -s -X POST {base}/api/1/customer -H 'API-Key: {key}' \\",
        """        -H 'Content-Type: application/json' -d '{"name": "My first customer"}'""",
        f"      curl -s {base}/api/1/customer -H 'API-Key: {key}'",
        "",
        "  More keys: customer-api keys create --group NAME",
        rule,
    ]
    typer.echo("\n".join(lines), err=True)


def _prepare_vault(settings: Settings) -> None:
    """Make the vault folder now, so a bad CUSTOMER_API_VAULT_DIR is said before serving."""
    vault = settings.vault_dir.expanduser().resolve()
    try:
        vault.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=vault, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise startup.StartupFailure(
            f"customer-api: cannot use the vault folder {vault}: {exc.strerror or exc}"
            f" (CUSTOMER_API_VAULT_DIR={settings.vault_dir}).",
            "Make that folder writable for this user, or set CUSTOMER_API_VAULT_DIR to one that"
            " is.",
        ) from exc


def _check_port_free(host: str, port: int) -> None:
    """Say plainly when the address is taken (uvicorn would log it among its start-up lines)."""
    if port == 0:
        return
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.create_server((host, port), family=family):
            pass
    except OSError as exc:
        raise startup.StartupFailure(
            f"customer-api: cannot listen on {host}:{port}: {exc.strerror or exc}.",
            "Stop what uses that address, or choose another with --port or --host"
            " (CUSTOMER_API_PORT, CUSTOMER_API_HOST).",
        ) from exc


@keys_app.command("create")
def keys_create(
    group: Annotated[
        str,
        typer.Option(
            help="The group (tenant) the key belongs to; a new name makes a new group.",
            metavar="NAME",
        ),
    ],
    new_database: Annotated[
        bool,
        typer.Option(
            "--new-database",
            help="Make the database if it does not exist yet (otherwise that is an error).",
        ),
    ] = False,
) -> None:
    """Make an API key for a group.

    The key is shown once, alone on the last line of the output; only its hash is stored.
    """
    name = group.strip()
    if not name or len(name) > 200:
        raise typer.BadParameter("the group name must be 1 to 200 characters", param_hint="--group")
    settings = get_settings()
    _migrate(settings, create=new_database)

    async def create(session: AsyncSession) -> tuple[int, str]:
        key, plain = await auth_service.create_key(session, group_name=name)
        return key.id, plain

    key_id, plain = _in_transaction(settings, create)
    typer.echo(f"created key {key_id} for group {name!r}; store it now, it is not shown again:")
    typer.echo(plain)


@keys_app.command("list")
def keys_list() -> None:
    """List the API keys.

    Each with its id, first characters, status and group; never a whole key.
    """
    settings = get_settings()
    _migrate(settings, create=False)
    keys = _in_transaction(settings, auth_service.list_keys)
    typer.echo(f"{'ID':>5}  {'PREFIX':<12}  {'CREATED':<20}  {'STATUS':<8}  GROUP")
    for key in keys:
        status = "revoked" if key.revoked else "active"
        created = key.created.strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(f"{key.id:>5}  {key.prefix + '…':<12}  {created:<20}  {status:<8}  {key.group}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[
        int, typer.Argument(help="The key's id, as keys list shows it.", metavar="ID")
    ],
) -> None:
    """Revoke an API key.

    Requests with it answer 401 within CUSTOMER_API_KEY_CACHE_SECONDS (5 s by default).
    """
    settings = get_settings()
    _migrate(settings, create=False)

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
    """Rebuild the search index from the database.

    A progress bar shows how far it is. Database search is rewritten in place; Elasticsearch
    gets a new index, and the alias moves to it once it is complete. Searching keeps working
    throughout.
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
    """Send customer changes to Elasticsearch.

    Runs until stopped (Ctrl-C or SIGTERM). customer-api serve runs one inside each worker
    already; run this for more throughput, or alone with CUSTOMER_API_INDEXER_IN_PROCESS=false.
    Several may run at once.
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


@app.command()
def webhooks() -> None:
    """Deliver webhook events.

    Runs until stopped (Ctrl-C or SIGTERM). customer-api serve runs a dispatcher inside each
    worker already; run this for more throughput, or alone with
    CUSTOMER_API_WEBHOOK_DISPATCHER_IN_PROCESS=false. Several may run at once.
    """
    settings = get_settings()
    configure_logging(settings.log_level)
    _migrate(settings)
    asyncio.run(_run_webhooks(settings))


async def _run_webhooks(settings: Settings) -> None:
    database = Database(settings.async_database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        typer.echo("webhook dispatcher running", err=True)
        await Dispatcher(database, policy_of(settings)).run(stop)
    finally:
        await database.dispose()


dead_letters_app = typer.Typer(
    help="Review search changes Elasticsearch refused too often.\n\n"
    "The indexer sets them aside; list them, and put them back in line once fixed.",
    no_args_is_help=True,
)
app.add_typer(dead_letters_app, name="dead-letters")


@dead_letters_app.command("list")
def dead_letters_list() -> None:
    """List dead letters.

    Each with its entry, its customer, since when, and Elasticsearch's last answer.
    """
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
    """Put dead letters back in line for the indexer.

    Do this after fixing what Elasticsearch refused.
    """
    settings = get_settings()
    _migrate(settings)

    async def retry(session: AsyncSession) -> int:
        return await outbox.retry_dead_letters(session, entry_ids or None)

    typer.echo(f"{_in_transaction(settings, retry)} dead letter(s) back in line")


def main() -> None:
    """Run the command; a start-up or configuration failure is told in plain lines, with the
    traceback only under --debug."""
    try:
        app()
    except Exception as exc:
        lines = None if _debug else startup.explain(exc, _database_url_for_messages())
        if lines is None:
            raise
        for line in lines:
            typer.echo(line, err=True)
        raise SystemExit(1) from None


def _database_url_for_messages() -> str:
    try:
        return get_settings().database_url
    except Exception:
        return os.environ.get(
            "CUSTOMER_API_DATABASE_URL", Settings.model_fields["database_url"].default
        )
