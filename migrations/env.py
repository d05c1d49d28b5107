"""Alembic environment: runs the revisions over the app's async engine, SQLite or Postgres."""

import asyncio
import logging.config

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection

from customer_api.config import async_database_url, get_settings
from customer_api.core.db import create_engine
from customer_api.models import metadata, schema_comparison_options

config = context.config
if config.config_file_name and not config.attributes.get("skip_logging_config"):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = metadata


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        **schema_comparison_options(connection.dialect.name),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _foreign_keys_off(dbapi_connection, _record) -> None:
    """SQLite rebuilds a table by copy, drop and rename: with foreign keys on, the drop would
    delete the rows that refer to it (ON DELETE CASCADE) and the rename would point their keys
    at the old name. Revisions run with them off (a revision that rebuilds tables checks them)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


async def _run_online() -> None:
    engine = create_engine(async_database_url(_url()))
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _foreign_keys_off)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=async_database_url(_url()), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
