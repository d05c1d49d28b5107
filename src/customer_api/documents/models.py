from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from customer_api.core.db import Base
from customer_api.core.timestamps import UTCDateTime, utcnow

MAX_URL_LENGTH = 2048


class Document(Base):
    """A file in the vault (``storage_key`` set) or a link to a file elsewhere (``external_url``).

    Exactly one of the two is set. Documents are never deleted implicitly: detaching a document
    from its last customer leaves it, and its stored file, where it is.
    """

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("(storage_key IS NULL) <> (external_url IS NULL)", name="stored_or_linked"),
        Index("ix_documents_group_id", "group_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Server-assigned, so unique across groups (vault URLs name a document by it alone).
    uuid: Mapped[UUID] = mapped_column(Uuid, default=uuid4, unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    storage_key: Mapped[str | None] = mapped_column(String(200))
    external_url: Mapped[str | None] = mapped_column(String(MAX_URL_LENGTH))
    thumb_url: Mapped[str | None] = mapped_column(String(MAX_URL_LENGTH))
    file_name: Mapped[str | None] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_link(self) -> bool:
        return self.storage_key is None


class CustomerDocument(Base):
    """A document attached to a customer; ``position`` keeps the order of the customer's list."""

    __tablename__ = "customer_documents"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    attached: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document: Mapped[Document] = relationship(lazy="raise")
