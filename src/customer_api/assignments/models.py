"""Employees (the group's users), their customer assignments, and the routes they drive.

References are the clients' external ids: a user's ``reference`` and a customer's
``customer_number`` (its ``reference`` in this family). They are never copied into assignments,
so renaming either is seen at once everywhere.
"""

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from customer_api.core.db import Base
from customer_api.core.timestamps import UTCDateTime, utcnow
from customer_api.customers.models import Customer

REFERENCE_LENGTH = 100

# Postgres serves LIKE 'prefix%' from a btree only with a bytewise operator class (or a C
# collation): these indexes carry the wildcard filters on any database collation. On SQLite they
# are plain indexes (its GLOB uses the ordinary one).
PATTERN_OPS = "varchar_pattern_ops"


def pattern_index(name: str, group_column: Column[int], column: Column[str]) -> Index:
    """(group_id, column) for ``column LIKE 'prefix%'`` within a group."""
    return Index(name, group_column, column, postgresql_ops={column.key: PATTERN_OPS})


def trigram_index(name: str, column: Column[str]) -> Index:
    """A Postgres GIN trigram index on ``column`` for ``LIKE '%infix%'`` and ``'%suffix'``
    (pg_trgm); there is no such index on SQLite."""
    index = Index(name, column, postgresql_using="gin", postgresql_ops={column.key: "gin_trgm_ops"})
    Base.metadata.info.setdefault("postgresql_only_indexes", set()).add(name)
    return index.ddl_if(dialect="postgresql")


def _group_column() -> Mapped[int]:
    return mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))


def _timestamp_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, default=utcnow)


class Employee(Base):
    """A user of the group: the employee customers are assigned to (``/api/v1.0/users``)."""

    __tablename__ = "employees"
    __table_args__ = (
        UniqueConstraint("group_id", "reference"),
        Index("ix_employees_group_id_id", "group_id", "id"),
        Index("ix_employees_group_id_created", "group_id", "created", "id"),
        Index("ix_employees_group_id_modified", "group_id", "modified", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = _group_column()
    reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    mobile: Mapped[str | None] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    organization: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[datetime] = _timestamp_column()
    modified: Mapped[datetime] = _timestamp_column()


class CustomerEmployee(Base):
    """A customer assigned to an employee; a customer is assigned at most once.

    Deleting the customer (``DELETE /api/1/customer/{id}``) removes its assignment; an employee
    with assignments cannot be deleted (RESTRICT), the API refuses it first.
    """

    __tablename__ = "customer_employees"
    __table_args__ = (
        UniqueConstraint("customer_id"),
        Index("ix_customer_employees_group_id_id", "group_id", "id"),
        Index("ix_customer_employees_group_id_created", "group_id", "created", "id"),
        Index("ix_customer_employees_group_id_modified", "group_id", "modified", "id"),
        Index("ix_customer_employees_employee_id", "employee_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = _group_column()
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="RESTRICT"))
    created: Mapped[datetime] = _timestamp_column()
    modified: Mapped[datetime] = _timestamp_column()

    customer: Mapped[Customer] = relationship(lazy="raise")
    employee: Mapped[Employee] = relationship(lazy="raise")


class Route(Base):
    """A route belongs to one employee and visits, in order, customers assigned to them."""

    __tablename__ = "routes"
    __table_args__ = (
        UniqueConstraint("group_id", "reference"),
        Index("ix_routes_group_id_id", "group_id", "id"),
        Index("ix_routes_group_id_created", "group_id", "created", "id"),
        Index("ix_routes_group_id_modified", "group_id", "modified", "id"),
        Index("ix_routes_group_id_name", "group_id", "name", "id"),
        Index("ix_routes_employee_id", "employee_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = _group_column()
    reference: Mapped[str | None] = mapped_column(String(REFERENCE_LENGTH))
    name: Mapped[str] = mapped_column(String(255))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="RESTRICT"))
    created: Mapped[datetime] = _timestamp_column()
    modified: Mapped[datetime] = _timestamp_column()

    employee: Mapped[Employee] = relationship(lazy="raise")
    visits: Mapped[list["RouteVisit"]] = relationship(
        back_populates="route",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="RouteVisit.position",
    )


class RouteVisit(Base):
    """A stop of a route at a customer; deleting the customer removes the stop."""

    __tablename__ = "route_visits"
    __table_args__ = (Index("ix_route_visits_customer_id", "customer_id", "route_id"),)

    route_id: Mapped[int] = mapped_column(
        ForeignKey("routes.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = _group_column()
    position: Mapped[int] = mapped_column(Integer)

    route: Mapped[Route] = relationship(back_populates="visits", lazy="raise")
    customer: Mapped[Customer] = relationship(lazy="raise")


# The customers table belongs to /api/1; the indexes that serve this family's lists (sort by id,
# dateCreated or name within a group; reference and name wildcards) live here, with the family
# that needs them.
Index("ix_customers_group_id_id", Customer.group_id, Customer.id)
Index("ix_customers_group_id_created", Customer.group_id, Customer.created, Customer.id)
Index("ix_customers_group_id_name", Customer.group_id, Customer.name, Customer.id)
pattern_index("ix_employees_group_id_reference_pattern", Employee.group_id, Employee.reference)
pattern_index(
    "ix_customers_group_id_customer_number_pattern", Customer.group_id, Customer.customer_number
)
pattern_index("ix_customers_group_id_name_pattern", Customer.group_id, Customer.name)
trigram_index("ix_employees_reference_trgm", Employee.reference)
trigram_index("ix_customers_customer_number_trgm", Customer.customer_number)
trigram_index("ix_customers_name_trgm", Customer.name)
