"""foundation: groups, API keys, customers and their projects

Revision ID: 20261123_01
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_01"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        _timestamp("created"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_groups_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        _timestamp("created"),
        _timestamp("revoked", nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_api_keys_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_group_id"), "api_keys", ["group_id"])
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("customer_number", sa.String(length=100), nullable=True),
        sa.Column("organization_number", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=100), nullable=True),
        sa.Column("mobile", sa.String(length=100), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("postal_code", sa.String(length=50), nullable=True),
        sa.Column("city", sa.String(length=255), nullable=True),
        sa.Column("country", sa.String(length=100), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("organization", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _timestamp("created"),
        _timestamp("modified"),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_customers_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "group_id", "customer_number", name=op.f("uq_customers_group_id_customer_number")
        ),
        sa.UniqueConstraint("group_id", "uuid", name=op.f("uq_customers_group_id_uuid")),
    )
    op.create_index("ix_customers_group_id_active_id", "customers", ["group_id", "active", "id"])
    op.create_index("ix_customers_group_id_modified", "customers", ["group_id", "modified"])
    op.create_table(
        "customer_projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_projects_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_projects")),
        sa.UniqueConstraint(
            "customer_id", "uuid", name=op.f("uq_customer_projects_customer_id_uuid")
        ),
    )
    op.create_index(op.f("ix_customer_projects_customer_id"), "customer_projects", ["customer_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_projects_customer_id"), table_name="customer_projects")
    op.drop_table("customer_projects")
    op.drop_index("ix_customers_group_id_modified", table_name="customers")
    op.drop_index("ix_customers_group_id_active_id", table_name="customers")
    op.drop_table("customers")
    op.drop_index(op.f("ix_api_keys_group_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("groups")
