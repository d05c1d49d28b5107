from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from customer_api.core.db import Base
from customer_api.core.timestamps import UTCDateTime, utcnow


class IdempotentRequest(Base):
    """A request made with an Idempotency-Key: claimed while it runs, then its answer."""

    __tablename__ = "idempotent_requests"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    """SHA-256 of the method, the path and the body; known once the body has been read."""
    status: Mapped[int | None] = mapped_column(Integer, default=None)
    """The answer's status; None while the first request runs."""
    headers: Mapped[list[list[str]] | None] = mapped_column(JSON, default=None)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
