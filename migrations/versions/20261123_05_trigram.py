"""trigram indexes for wildcard filters that do not start with a fixed prefix

On Postgres, the pg_trgm extension and a GIN trigram index on each column the /api/v1.0 lists
filter with `*` wildcards: customer numbers, customer names and employee references. The
`(group_id, column)` pattern indexes serve exact matches and prefixes (`C-00012*`); these serve
suffixes and infixes (`*99999`, `*4242*`), which would otherwise read the group's rows. Without
them a filter still answers correctly, only slower. SQLite has no such index (GLOB reads the
group's rows there); nothing is done on it.

pg_trgm is a trusted extension (Postgres 13 and later): the database owner may create it. The
downgrade drops the indexes and leaves the extension, which other objects may use.

Revision ID: 20261123_05
Revises: 20261123_04
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261123_05"
down_revision: str | None = "20261123_04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM_INDEXES = {
    "ix_customers_customer_number_trgm": ("customers", "customer_number"),
    "ix_customers_name_trgm": ("customers", "name"),
    "ix_employees_reference_trgm": ("employees", "reference"),
}


def _on_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _on_postgres():
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in TRIGRAM_INDEXES.items():
        op.create_index(
            name,
            table,
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    if not _on_postgres():
        return
    for name, (table, _column) in TRIGRAM_INDEXES.items():
        op.drop_index(name, table_name=table)
