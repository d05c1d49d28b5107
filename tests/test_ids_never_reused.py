"""An id, once handed out, is never handed out again: an integration that kept the id of a
deleted record must not find another record under it."""

import sqlite3
from pathlib import Path

from customer_api.core import migrations
from customer_api.models import metadata

BEFORE_AUTOINCREMENT = "20261203_10"
AUTOINCREMENT = "20261203_20"


async def test_a_deleted_customer_s_id_is_not_reused(client) -> None:
    first = (await client.post("/api/1/customer", json={"name": "First"})).json()
    newest = (await client.post("/api/1/customer", json={"name": "Newest"})).json()
    assert (await client.delete(f"/api/1/customer/{newest['id']}")).status_code == 200
    after = (await client.post("/api/1/customer", json={"name": "After"})).json()
    assert after["id"] > newest["id"] > first["id"]
    assert (await client.get(f"/api/1/customer/{newest['id']}")).status_code == 404


async def test_a_deleted_user_s_id_is_not_reused(client) -> None:
    newest = (await client.post("/api/v1.0/users", json={"reference": "U-1"})).json()
    deleted = await client.delete(f"/api/v1.0/users/{newest['id']}")
    assert deleted.status_code == 200, deleted.text
    after = (await client.post("/api/v1.0/users", json={"reference": "U-1"})).json()
    assert after["id"] > newest["id"]
    assert (await client.get(f"/api/v1.0/users/{newest['id']}")).status_code == 404


def _id_tables(db: sqlite3.Connection) -> dict[str, str]:
    """Each mapped table whose key is one integer column ``id``: its SQL."""
    tables = {}
    for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"):
        if name not in metadata.tables:  # SQLite's own, FTS5's
            continue
        columns = db.execute(f'PRAGMA table_info("{name}")').fetchall()
        key = [(column[1], column[2].upper()) for column in columns if column[5]]
        if key == [("id", "INTEGER")]:
            tables[name] = sql
    return tables


def _schema(db: sqlite3.Connection) -> set[tuple[str, str]]:
    return set(
        db.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
            "AND type IN ('index', 'trigger', 'table')"
        ).fetchall()
    )


def test_every_table_with_an_id_has_autoincrement_on_sqlite(tmp_path: Path) -> None:
    """Also the guard for later revisions: a batch rebuild that loses AUTOINCREMENT fails here."""
    path = tmp_path / "head.db"
    migrations.upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        tables = _id_tables(db)
    assert {"customers", "employees", "routes", "customer_employees", "api_keys"} <= set(tables)
    for name, sql in tables.items():
        assert "AUTOINCREMENT" in sql.upper(), name


def test_the_migration_keeps_every_row_index_and_trigger(tmp_path: Path) -> None:
    path = tmp_path / "existing.db"
    url = f"sqlite:///{path}"
    migrations.upgrade(url, BEFORE_AUTOINCREMENT)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("INSERT INTO groups (id, name, created) VALUES (1, 'Acme', '2026-01-01')")
        db.executemany(
            "INSERT INTO customers (id, uuid, group_id, name, active, created, modified) "
            "VALUES (?, ?, 1, ?, 1, '2026-01-01', '2026-01-01')",
            [(number, f"{number:032x}", f"Customer {number}") for number in (1, 2, 3)],
        )
        db.execute(
            "INSERT INTO customer_projects (uuid, customer_id, name, active) "
            "VALUES ('p1', 1, 'Barn', 1)"
        )
        db.execute(
            "INSERT INTO employees (id, group_id, reference, enabled, created, modified) "
            "VALUES (1, 1, 'U-1', 1, '2026-01-01', '2026-01-01')"
        )
        db.execute(
            "INSERT INTO customer_employees (group_id, customer_id, employee_id, created, "
            "modified) VALUES (1, 2, 1, '2026-01-01', '2026-01-01')"
        )
        db.execute("INSERT INTO customer_search_fts (rowid, scope, name) VALUES (3, 'g1', 'x')")
        schema_before = _schema(db)
        rows_before = {
            table: db.execute(f'SELECT * FROM "{table}"').fetchall()
            for table in ("groups", "customers", "customer_projects", "customer_employees")
        }

    # To this revision, not the head: later revisions add tables of their own.
    migrations.upgrade(url, AUTOINCREMENT)
    migrations.downgrade(url, BEFORE_AUTOINCREMENT)
    migrations.upgrade(url, AUTOINCREMENT)

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys = ON")
        assert _schema(db) == schema_before
        for table, rows in rows_before.items():
            assert db.execute(f'SELECT * FROM "{table}"').fetchall() == rows, table
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        # The search entry's trigger is back: deleting the customer removes its entry.
        db.execute("DELETE FROM customers WHERE id = 3")
        assert db.execute("SELECT count(*) FROM customer_search_fts").fetchone() == (0,)
        # Deleting cascades as before, and the newest id is not handed out again.
        db.execute("DELETE FROM customers WHERE id = 2")
        assert db.execute("SELECT count(*) FROM customer_employees").fetchone() == (0,)
        db.execute(
            "INSERT INTO customers (uuid, group_id, name, active, created, modified) "
            "VALUES ('new', 1, 'New', 1, '2026-01-01', '2026-01-01')"
        )
        assert db.execute("SELECT max(id) FROM customers").fetchone() == (4,)
