"""ids are never reused on SQLite: AUTOINCREMENT on every table with a server-assigned id

Without AUTOINCREMENT, SQLite gives a new row the largest id in the table plus one: delete the
newest customer (or user, route, key...) and the next one gets its id, and an integration that
kept the old id now points at another record. With it, SQLite remembers the largest id ever
handed out (in ``sqlite_sequence``). Postgres sequences never go back; nothing is done there.

SQLite cannot change a column's key in place, so each table is rebuilt the way SQLite documents
(new table, copy, drop, rename) with ``legacy_alter_table`` on, so that the other tables'
foreign keys keep naming the table; its indexes and triggers are made again from their own SQL.
The rows keep their ids, and the sequence starts from the largest id kept (an id deleted from
the top before this revision cannot be known, and may be handed out once more).

A later revision that rebuilds one of these tables on SQLite (batch mode) must keep
``sqlite_autoincrement=True``; a test checks every table at the head revision.

Revision ID: 20261203_20
Revises: 20261203_10
Create Date: 2026-12-03
"""

import re
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "20261203_20"
down_revision: str | None = "20261203_10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "groups",
    "api_keys",
    "customers",
    "customer_projects",
    "documents",
    "employees",
    "customer_employees",
    "routes",
    "search_outbox",
    "deletions",
)
_ID_COLUMN = r"(\n\s*\"?id\"?\s+INTEGER\s+NOT\s+NULL)"
_AUTOINCREMENT = re.compile(r"PRIMARY\s+KEY\s+AUTOINCREMENT", re.I)


def _table_key(table: str) -> str:
    return rf"CONSTRAINT\s+\"?pk_{table}\"?\s+PRIMARY\s+KEY\s*\(\s*\"?id\"?\s*\)"


def _with_autoincrement(table: str, sql: str) -> str:
    """The table's SQL with its key on the id column, AUTOINCREMENT, instead of a table
    constraint."""
    sql, removed = re.subn(rf"{_table_key(table)}\s*,\s*", "", sql, flags=re.I)
    if not removed:
        sql, removed = re.subn(rf",\s*{_table_key(table)}(?=\s*\)\s*$)", "", sql, flags=re.I)
    sql, changed = re.subn(
        rf"{_ID_COLUMN}(?=\s*,)",
        rf"\1 CONSTRAINT pk_{table} PRIMARY KEY AUTOINCREMENT",
        sql,
        count=1,
        flags=re.I,
    )
    if removed != 1 or changed != 1:
        raise RuntimeError(f"unexpected definition of table {table}: {sql}")
    return sql


def _without_autoincrement(table: str, sql: str) -> str:
    sql, changed = re.subn(
        rf"{_ID_COLUMN}\s+CONSTRAINT\s+\"?pk_{table}\"?\s+PRIMARY\s+KEY\s+AUTOINCREMENT",
        r"\1",
        sql,
        count=1,
        flags=re.I,
    )
    sql, added = re.subn(r"\s*\)\s*$", f", \n\tCONSTRAINT pk_{table} PRIMARY KEY (id)\n)", sql)
    if changed != 1 or added != 1:
        raise RuntimeError(f"unexpected definition of table {table}: {sql}")
    return sql


def _rebuild(table: str, new_sql: str) -> None:
    bind = op.get_bind()
    dependents = bind.execute(
        text(
            "SELECT sql FROM sqlite_master WHERE tbl_name = :table "
            "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
        ),
        {"table": table},
    ).scalars()
    dependents = list(dependents)
    old = f"{table}__before_autoincrement"
    op.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    op.execute(new_sql)
    op.execute(f'INSERT INTO "{table}" SELECT * FROM "{old}"')
    op.execute(f'DROP TABLE "{old}"')  # its indexes and triggers with it
    for sql in dependents:
        op.execute(sql)


def _convert(convert, wanted: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        # migrations/env.py turns them off: else dropping the old table would delete the rows
        # that refer to it, and the rename would point their keys at the old name.
        raise RuntimeError("SQLite foreign keys must be off while tables are rebuilt")
    broken_before = set(bind.exec_driver_sql("PRAGMA foreign_key_check").all())
    # The other tables' foreign keys keep naming the table through its rename.
    op.execute("PRAGMA legacy_alter_table = ON")
    try:
        for table in TABLES:
            sql = bind.execute(
                text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :table"),
                {"table": table},
            ).scalar_one()
            if bool(_AUTOINCREMENT.search(sql)) != wanted:
                _rebuild(table, convert(table, sql))
    finally:
        op.execute("PRAGMA legacy_alter_table = OFF")
    # Rows that already referred to nothing (written with foreign keys off) are not this
    # revision's to judge; any new one undoes it (each revision is one transaction on SQLite).
    broken = set(bind.exec_driver_sql("PRAGMA foreign_key_check").all()) - broken_before
    if broken:
        raise RuntimeError(f"rebuilding the tables broke foreign keys: {sorted(broken)[:5]}")


def upgrade() -> None:
    _convert(_with_autoincrement, wanted=True)


def downgrade() -> None:
    _convert(_without_autoincrement, wanted=False)
    if op.get_bind().dialect.name == "sqlite":
        tables = ", ".join(f"'{table}'" for table in TABLES)
        op.execute(f"DELETE FROM sqlite_sequence WHERE name IN ({tables})")
