from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from customer_api.core.db import Base
from customer_api.core.timestamps import UTCDateTime, utcnow


class Deletion(Base):
    """A tombstone: the resource's id and its other names, and when it was deleted."""

    __tablename__ = "deletions"
    __table_args__ = (
        Index("ix_deletions_group_id_resource_deleted", "group_id", "resource", "deleted", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(String(32))
    """``customer``, ``user``, ``route`` or ``customerEmployee``."""
    resource_id: Mapped[int] = mapped_column(Integer)
    uuid: Mapped[str | None] = mapped_column(String(36), default=None)
    reference: Mapped[str | None] = mapped_column(String(255), default=None)
    """The customer number, the user's or route's reference; for an assignment the customer's
    reference and the user's, joined by ``/``."""
    deleted: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
