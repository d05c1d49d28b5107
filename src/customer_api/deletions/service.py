"""Tombstones, written in the transaction of each deletion and kept for a retention, so that an
integration syncing with ``modified`` also learns what went away."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.core.db import Base
from customer_api.core.timestamps import utcnow
from customer_api.deletions.models import Deletion

CUSTOMER = "customer"
USER = "user"
ROUTE = "route"
ASSIGNMENT = "customerEmployee"


async def record(
    session: AsyncSession,
    resource: str,
    row: Any,
    *,
    uuid: str | None = None,
    reference: str | None = None,
) -> None:
    """A tombstone for ``row`` (with its ``id`` and ``group_id``), deleted in this transaction."""
    session.add(
        Deletion(
            group_id=row.group_id,
            resource=resource,
            resource_id=row.id,
            uuid=uuid,
            reference=reference,
            deleted=utcnow(),
        )
    )


async def record_dependents(
    session: AsyncSession,
    *,
    group_id: int,
    resource: str,
    table: str,
    foreign_key: str,
    parent_id: int,
) -> None:
    """Tombstones for the rows of ``table`` that the database deletes with their parent (a
    foreign key with ON DELETE CASCADE): named by table, so that the parent's package need not
    know the dependent's."""
    dependents = Base.metadata.tables[table]
    rows = select(
        dependents.c.group_id,
        dependents.c.id,
    ).where(dependents.c.group_id == group_id, dependents.c[foreign_key] == parent_id)
    now = utcnow()
    tombstones = [
        {"group_id": group_id, "resource": resource, "resource_id": row.id, "deleted": now}
        for row in (await session.execute(rows)).all()
    ]
    if tombstones:
        await session.execute(insert(Deletion), tombstones)


def _since(
    group_id: int, resource: str, since: datetime | None, *, after: bool
) -> Select[tuple[Deletion]]:
    statement = select(Deletion).where(Deletion.group_id == group_id, Deletion.resource == resource)
    if since is not None:
        statement = statement.where(
            Deletion.deleted > since if after else Deletion.deleted >= since
        )
    return statement


async def deleted_since(
    session: AsyncSession,
    *,
    group_id: int,
    resource: str,
    since: datetime | None,
    after: bool = False,
    limit: int,
    offset: int,
) -> Sequence[Deletion]:
    """The group's tombstones of a resource deleted at or after ``since`` (strictly after, with
    ``after``), oldest first."""
    statement = _since(group_id, resource, since, after=after)
    statement = statement.order_by(Deletion.deleted, Deletion.id).limit(limit).offset(offset)
    return (await session.scalars(statement)).all()


async def count_deleted_since(
    session: AsyncSession, *, group_id: int, resource: str, since: datetime | None, after: bool
) -> int:
    statement = _since(group_id, resource, since, after=after)
    return await session.scalar(select(func.count()).select_from(statement.subquery())) or 0


async def prune(session: AsyncSession, *, kept_for: timedelta) -> int:
    """Remove the tombstones older than the retention; how many went."""
    result = await session.execute(delete(Deletion).where(Deletion.deleted < utcnow() - kept_for))
    return result.rowcount or 0
