"""assignments: employees, customer assignments, routes and their visits (/api/v1.0)

Revision ID: 20261123_04
Revises: 20261123_03
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_04"
down_revision: str | None = "20261123_03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The indexes this family's lists sort and filter the customers table by.
CUSTOMER_INDEXES = {
    "ix_customers_group_id_id": ["group_id", "id"],
    "ix_customers_group_id_created": ["group_id", "created", "id"],
    "ix_customers_group_id_name": ["group_id", "name", "id"],
}
# (group_id, column) with a bytewise operator class, so that Postgres serves LIKE 'prefix%'
# from them whatever the database's collation (on SQLite: plain indexes).
PATTERN_INDEXES = {
    "ix_customers_group_id_customer_number_pattern": ("customers", "customer_number"),
    "ix_customers_group_id_name_pattern": ("customers", "name"),
    "ix_employees_group_id_reference_pattern": ("employees", "reference"),
}


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
    ]


def _group(table: str) -> list[sa.Column | sa.ForeignKeyConstraint]:
    return [
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=f"fk_{table}_group_id_groups", ondelete="CASCADE"
        ),
    ]


def _foreign_key(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _listing_indexes(table: str, *extra: tuple[str, list[str]]) -> None:
    """(group_id, id), (group_id, created, id), (group_id, modified, id) and any extra."""
    indexes = {
        f"ix_{table}_group_id_id": ["group_id", "id"],
        f"ix_{table}_group_id_created": ["group_id", "created", "id"],
        f"ix_{table}_group_id_modified": ["group_id", "modified", "id"],
        **dict(extra),
    }
    for name, columns in indexes.items():
        op.create_index(name, table, columns)


def upgrade() -> None:
    op.create_table(
        "employees",
        sa.Column("id", sa.Integer(), nullable=False),
        *_group("employees"),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("mobile", sa.String(length=100), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("organization", sa.String(length=255), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_employees"),
        sa.UniqueConstraint("group_id", "reference", name="uq_employees_group_id_reference"),
    )
    _listing_indexes("employees")

    op.create_table(
        "customer_employees",
        sa.Column("id", sa.Integer(), nullable=False),
        *_group("customer_employees"),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        *_timestamps(),
        _foreign_key("customer_employees", "customer_id", "customers", "CASCADE"),
        _foreign_key("customer_employees", "employee_id", "employees", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_customer_employees"),
        sa.UniqueConstraint("customer_id", name="uq_customer_employees_customer_id"),
    )
    _listing_indexes(
        "customer_employees",
        ("ix_customer_employees_employee_id", ["employee_id", "id"]),
    )

    op.create_table(
        "routes",
        sa.Column("id", sa.Integer(), nullable=False),
        *_group("routes"),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        *_timestamps(),
        _foreign_key("routes", "employee_id", "employees", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_routes"),
        sa.UniqueConstraint("group_id", "reference", name="uq_routes_group_id_reference"),
    )
    _listing_indexes(
        "routes",
        ("ix_routes_group_id_name", ["group_id", "name", "id"]),
        ("ix_routes_employee_id", ["employee_id"]),
    )

    op.create_table(
        "route_visits",
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        *_group("route_visits"),
        sa.Column("position", sa.Integer(), nullable=False),
        _foreign_key("route_visits", "route_id", "routes", "CASCADE"),
        _foreign_key("route_visits", "customer_id", "customers", "CASCADE"),
        sa.PrimaryKeyConstraint("route_id", "customer_id", name="pk_route_visits"),
    )
    op.create_index("ix_route_visits_customer_id", "route_visits", ["customer_id", "route_id"])

    for name, columns in CUSTOMER_INDEXES.items():
        op.create_index(name, "customers", columns)
    for name, (table, column) in PATTERN_INDEXES.items():
        op.create_index(
            name,
            table,
            ["group_id", column],
            postgresql_ops={column: "varchar_pattern_ops"},
        )


def downgrade() -> None:
    for name, (table, _column) in PATTERN_INDEXES.items():
        op.drop_index(name, table_name=table)
    for name in CUSTOMER_INDEXES:
        op.drop_index(name, table_name="customers")
    # Dropping a table drops its indexes with it.
    for table in ("route_visits", "routes", "customer_employees", "employees"):
        op.drop_table(table)
