"""safe writes: requests made with an Idempotency-Key, and tombstones of deleted resources

Revision ID: 20261203_10
Revises: 20261203_01
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261203_10"
down_revision: str | None = "20261203_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotent_requests",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_idempotent_requests_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "key", name=op.f("pk_idempotent_requests")),
    )
    op.create_index(
        op.f("ix_idempotent_requests_created"), "idempotent_requests", ["created"], unique=False
    )
    op.create_table(
        "deletions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=True),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("deleted", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_deletions_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deletions")),
    )
    op.create_index(
        "ix_deletions_group_id_resource_deleted",
        "deletions",
        ["group_id", "resource", "deleted", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_deletions_group_id_resource_deleted", table_name="deletions")
    op.drop_table("deletions")
    op.drop_index(op.f("ix_idempotent_requests_created"), table_name="idempotent_requests")
    op.drop_table("idempotent_requests")
