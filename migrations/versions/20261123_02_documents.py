"""documents: uploaded files and external links, and the customers they are attached to

Revision ID: 20261123_02
Revises: 20261123_01
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_02"
down_revision: str | None = "20261123_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=True),
        sa.Column("external_url", sa.String(length=2048), nullable=True),
        sa.Column("thumb_url", sa.String(length=2048), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("mime_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
        _timestamp("created"),
        _timestamp("modified"),
        sa.CheckConstraint(
            "(storage_key IS NULL) <> (external_url IS NULL)",
            name=op.f("ck_documents_stored_or_linked"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_documents_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("uuid", name=op.f("uq_documents_uuid")),
    )
    op.create_index("ix_documents_group_id", "documents", ["group_id"])
    op.create_table(
        "customer_documents",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _timestamp("attached"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_documents_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_customer_documents_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "document_id", name=op.f("pk_customer_documents")),
    )
    op.create_index(
        op.f("ix_customer_documents_document_id"), "customer_documents", ["document_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_documents_document_id"), table_name="customer_documents")
    op.drop_table("customer_documents")
    op.drop_index("ix_documents_group_id", table_name="documents")
    op.drop_table("documents")
