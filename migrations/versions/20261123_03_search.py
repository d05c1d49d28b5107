"""search: the outbox feeding Elasticsearch, and the database's own full-text index

On SQLite, an FTS5 table (rowid = customer id) and a trigger that removes a customer's entry
with the customer (also when a group is deleted). A later revision that rebuilds the customers
table on SQLite (batch mode) drops this trigger and should create it again; search stays
correct without it (the application deletes entries itself and never shows one whose customer
is gone), only left-over entries would wait for the next reindex.

On Postgres, a table with a weighted tsvector per customer, a GIN index, and a foreign key
that removes the row with the customer.

The index is filled by the application
(it cuts the words itself): after upgrading a database that already holds customers, run
``customer-api reindex`` (``serve`` does it by itself when it finds the index empty).

Revision ID: 20261123_03
Revises: 20261123_02
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261123_03"
down_revision: str | None = "20261123_02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_FIELDS = "name, number, contact, place, projects, notes"


def upgrade() -> None:
    op.create_table(
        "search_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_outbox")),
    )
    op.create_index("ix_search_outbox_available_at_id", "search_outbox", ["available_at", "id"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # The ascii tokenizer splits only where the application put spaces (it stores words it
        # has already cut); prefix indexes keep "the last term as a prefix" fast.
        op.execute(
            f"CREATE VIRTUAL TABLE customer_search_fts USING fts5(scope, {FTS_FIELDS}, "
            "tokenize = 'ascii', prefix = '2 3')"
        )
        op.execute(
            "CREATE TRIGGER customer_search_fts_delete AFTER DELETE ON customers BEGIN "
            "DELETE FROM customer_search_fts WHERE rowid = old.id; END"
        )
    elif dialect == "postgresql":
        op.create_table(
            "customer_search",
            sa.Column("customer_id", sa.Integer(), nullable=False),
            sa.Column("group_id", sa.Integer(), nullable=False),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("document", postgresql.TSVECTOR(), nullable=False),
            sa.ForeignKeyConstraint(
                ["customer_id"],
                ["customers.id"],
                name="fk_customer_search_customer_id_customers",
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("customer_id", name="pk_customer_search"),
        )
        op.create_index(
            "ix_customer_search_document",
            "customer_search",
            ["document"],
            postgresql_using="gin",
        )
        op.create_index("ix_customer_search_group_id", "customer_search", ["group_id"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS customer_search_fts_delete")
        op.execute("DROP TABLE IF EXISTS customer_search_fts")
    elif dialect == "postgresql":
        op.drop_index("ix_customer_search_group_id", table_name="customer_search")
        op.drop_index("ix_customer_search_document", table_name="customer_search")
        op.drop_table("customer_search")
    op.drop_index("ix_search_outbox_available_at_id", table_name="search_outbox")
    op.drop_table("search_outbox")
