"""Rebuilding the database's own search index: in place, from the customers, and by command."""

import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.helpers import create_customer, run_cli
from tests.search.helpers import RecordedProgress, names

INDEX_TABLES = {"sqlite": "customer_search_fts", "postgres": "customer_search"}


async def _run_sql(app, statement: str) -> None:
    async with app.state.database.engine.begin() as connection:
        await connection.execute(text(statement))


async def test_rebuild_restores_a_lost_index(app, client, backend) -> None:
    await create_customer(client, "Wendy Warner")
    await create_customer(client, "Horse Stables", customerProjects=[{"name": "Barn"}])
    await _run_sql(app, f"DELETE FROM {INDEX_TABLES[backend]}")
    assert await names(client, "wendy barn") == []

    assert await app.state.search.rebuild(app.state.database, RecordedProgress()) == 2
    assert sorted(await names(client, "wendy barn")) == ["Horse Stables", "Wendy Warner"]


@pytest.fixture
async def without_delete_trigger(app, backend):
    """SQLite without the trigger that deletes index entries with their customer (as after a
    table rebuild that lost it): entries of customers deleted behind the service stay."""
    if backend != "sqlite":
        pytest.skip("on Postgres a foreign key makes an entry without its customer impossible")
    await _run_sql(app, "DROP TRIGGER customer_search_fts_delete")
    yield
    await _run_sql(
        app,
        "CREATE TRIGGER customer_search_fts_delete AFTER DELETE ON customers BEGIN "
        "DELETE FROM customer_search_fts WHERE rowid = old.id; END",
    )


async def _index_size(app, backend: str) -> int:
    async with app.state.database.engine.connect() as connection:
        return await connection.scalar(text(f"SELECT count(*) FROM {INDEX_TABLES[backend]}"))


async def test_deleting_through_the_api_removes_the_entry(
    app, client, backend, without_delete_trigger
) -> None:
    customer = await create_customer(client, "Ghost")
    await client.delete(f"/api/1/customer/{customer['id']}")
    assert await _index_size(app, backend) == 0


async def test_a_left_over_entry_is_never_found(
    app, client, backend, without_delete_trigger
) -> None:
    ghost = await create_customer(client, "Ghost")
    await _run_sql(app, f"DELETE FROM customers WHERE id = {ghost['id']}")
    assert await names(client, "ghost") == []
    # Ids are never reused (AUTOINCREMENT on SQLite): the left-over entry stays unseen.
    real = await create_customer(client, "Real")
    assert real["id"] > ghost["id"]
    assert await names(client, "ghost") == []
    assert await names(client, "real") == ["Real"]


async def test_rebuild_drops_entries_of_customers_that_are_gone(
    app, client, backend, without_delete_trigger
) -> None:
    ghost = await create_customer(client, "Ghost")
    await _run_sql(app, f"DELETE FROM customers WHERE id = {ghost['id']}")
    assert await _index_size(app, backend) == 1
    await app.state.search.rebuild(app.state.database, RecordedProgress())
    assert await _index_size(app, backend) == 0


async def test_deleting_a_group_empties_its_index(app, client, acme, backend) -> None:
    await create_customer(client, "Wendy")
    await _run_sql(app, f"DELETE FROM groups WHERE id = {acme.group_id}")
    assert await _index_size(app, backend) == 0


def test_reindex_command_indexes_customers_written_without_search(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "keys", "create", "--group", "Acme", "--new-database").returncode == 0
    with sqlite3.connect(tmp_path / "cli.db") as db:
        (group_id,) = db.execute("SELECT id FROM groups").fetchone()
        db.executemany(
            "INSERT INTO customers (uuid, group_id, name, active, created, modified) "
            "VALUES (?, ?, ?, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            [(uuid.uuid4().hex, group_id, f"Imported {number}") for number in range(3)],
        )
    result = run_cli(tmp_path, "reindex")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "indexed 3 customers (sqlite-fts5)"
    with sqlite3.connect(tmp_path / "cli.db") as db:
        found = db.execute(
            "SELECT count(*) FROM customer_search_fts WHERE customer_search_fts MATCH 'imported'"
        ).fetchone()
    assert found == (3,)


def test_indexer_command_needs_elasticsearch(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "indexer")
    assert result.returncode == 2
    assert "CUSTOMER_API_ELASTICSEARCH_URL is not set" in result.stderr


def test_reindex_command_reports_an_unreachable_elasticsearch(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "reindex", elasticsearch_url="http://127.0.0.1:9")
    assert result.returncode == 1
    # After the lines saying which database and vault the command uses.
    assert result.stderr.splitlines()[2].startswith("reindex failed:")
