"""The outbox that feeds Elasticsearch, written in the transaction of each customer change, and
each customer's change counter (the version its documents carry)."""

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from customer_api.core.db import Base
from customer_api.core.timestamps import UTCDateTime, utcnow

# The database-native search indexes are made per dialect by the migration (an FTS5 table on
# SQLite, a tsvector table on Postgres) and are not mapped: schema comparison leaves them out.
Base.metadata.info.setdefault("unmapped_table_prefixes", set()).add("customer_search")


class SearchOutboxEntry(Base):
    """ "Customer N changed": the indexer re-reads the customer and sends what it finds (or a
    delete, when it is gone) to Elasticsearch, then deletes the entry."""

    __tablename__ = "search_outbox"
    __table_args__ = (
        Index("ix_search_outbox_available_at_id", "available_at", "id"),
        # Only dead letters: finding a customer's among them never reads the whole outbox.
        Index(
            "ix_search_outbox_dead_customer_id",
            "customer_id",
            postgresql_where=text("dead_since IS NOT NULL"),
            sqlite_where=text("dead_since IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer)  # no foreign key: it outlives a deletion
    version: Mapped[int] = mapped_column(BigInteger)
    """The customer's change counter after this change (``SearchVersion``)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    refusals: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts Elasticsearch answered with a refusal of this document itself (a 4xx that
    retrying cannot cure), as opposed to being unreachable or busy."""
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """Not claimed before this moment: pushed back after each failed attempt."""
    dead_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """Set when the entry was refused too often: a dead letter, never claimed again until
    ``customer-api dead-letters retry`` (or a later change of the customer is indexed)."""
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SearchVersion(Base):
    """A customer's change counter: one more at every change (deletion included), in the
    change's transaction, so a later change always carries a higher version than an earlier
    one whatever the clocks of the hosts say. Kept after a deletion (no foreign key), so a
    customer id used again continues above its deletion."""

    __tablename__ = "search_versions"

    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
