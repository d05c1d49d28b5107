"""search versions and dead letters: a change counter per customer, refusals in the outbox

``search_versions`` holds each customer's change counter, the version Elasticsearch documents
carry (it replaces ``modified`` in epoch ms, which a clock stepping back could make go down).
Existing customers start at their ``modified`` in epoch ms, the version an index written before
this revision holds for them, so such an index keeps working; ``customer-api reindex`` rewrites
it with counter versions all the same.

The outbox gets ``refusals`` (attempts Elasticsearch refused the document itself) and
``dead_since`` (a dead letter: refused too often, no longer tried by itself), with a partial
index on the customer id of dead letters only: when a customer's change is indexed, its dead
letters are deleted without reading the whole outbox, however long it grew meanwhile.

Revision ID: 20261203_01
Revises: 20261123_05
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261203_01"
down_revision: str | None = "20261123_05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EPOCH_MS = {
    "postgresql": "(extract(epoch FROM modified) * 1000)::bigint",
    "sqlite": "CAST(round((julianday(modified) - 2440587.5) * 86400000) AS INTEGER)",
}


def upgrade() -> None:
    op.create_table(
        "search_versions",
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_search_versions")),
    )
    epoch_ms = EPOCH_MS[op.get_bind().dialect.name]
    op.execute(
        f"INSERT INTO search_versions (customer_id, version) SELECT id, {epoch_ms} FROM customers"
    )
    with op.batch_alter_table("search_outbox") as batch:
        batch.add_column(
            sa.Column("refusals", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("dead_since", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_search_outbox_dead_customer_id",
        "search_outbox",
        ["customer_id"],
        postgresql_where=sa.text("dead_since IS NOT NULL"),
        sqlite_where=sa.text("dead_since IS NOT NULL"),
    )


def downgrade() -> None:
    # if_exists: the index came a little after the columns, in the same unreleased revision.
    op.drop_index("ix_search_outbox_dead_customer_id", table_name="search_outbox", if_exists=True)
    with op.batch_alter_table("search_outbox") as batch:
        batch.drop_column("dead_since")
        batch.drop_column("refusals")
    op.drop_table("search_versions")
