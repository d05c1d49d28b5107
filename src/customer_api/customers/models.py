from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from customer_api.core.db import Base
from customer_api.core.timestamps import UTCDateTime, utcnow
from customer_api.documents.models import CustomerDocument


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        # The uuid is unique per group, so a client choosing a UUID can never learn that
        # another group already uses it.
        UniqueConstraint("group_id", "uuid"),
        UniqueConstraint("group_id", "customer_number"),
        Index("ix_customers_group_id_active_id", "group_id", "active", "id"),
        Index("ix_customers_group_id_modified", "group_id", "modified"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[UUID] = mapped_column(Uuid, default=uuid4)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    customer_number: Mapped[str | None] = mapped_column(String(100))
    organization_number: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(100))
    mobile: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(500))
    postal_code: Mapped[str | None] = mapped_column(String(50))
    city: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    organization: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    projects: Mapped[list["CustomerProject"]] = relationship(
        back_populates="customer",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="CustomerProject.id",
    )
    # The detail representation's documents; the list representation never loads them.
    document_links: Mapped[list[CustomerDocument]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=CustomerDocument.position,
    )


class CustomerProject(Base):
    __tablename__ = "customer_projects"
    __table_args__ = (UniqueConstraint("customer_id", "uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[UUID] = mapped_column(Uuid, default=uuid4)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    customer: Mapped[Customer] = relationship(back_populates="projects", lazy="raise")
