"""Keeping the answers of requests made with an Idempotency-Key, in the database (so that they
survive a restart and are shared by every worker and host)."""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from customer_api.core.db import Database
from customer_api.core.timestamps import utcnow
from customer_api.idempotency.models import IdempotentRequest

# A claim this old without an answer belongs to a request whose server died: it is taken over.
ABANDONED_AFTER = timedelta(minutes=10)
_PRUNE_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Kept:
    """What is known of an earlier request with the same key (no status: still running)."""

    fingerprint: str | None
    status: int | None
    headers: list[list[str]]
    body: bytes


class KeyStore:
    def __init__(self, database: Database, *, retention: timedelta) -> None:
        self.database = database
        self.retention = retention
        self._pruned_at = 0.0

    async def claim(self, group_id: int, key: str) -> Kept | None:
        """Claim the key for a request about to run (None), or what an earlier request with it
        left: its answer, or its claim while it runs."""
        await self._prune_now_and_then()
        now = utcnow()
        try:
            async with self.database.transaction() as session:
                found = await session.get(IdempotentRequest, (group_id, key))
                if found is not None and not self._outlived(found, now):
                    return Kept(
                        found.fingerprint, found.status, found.headers or [], found.body or b""
                    )
                if found is not None:
                    await session.delete(found)
                    await session.flush()
                session.add(IdempotentRequest(group_id=group_id, key=key, created=now))
        except IntegrityError:  # another request claimed it between the look and the insert
            return Kept(None, None, [], b"")
        return None

    def _outlived(self, found: IdempotentRequest, now: datetime) -> bool:
        if found.created < now - self.retention:
            return True
        return found.status is None and found.created < now - ABANDONED_AFTER

    async def keep(
        self,
        group_id: int,
        key: str,
        *,
        fingerprint: str,
        status: int,
        headers: list[list[str]],
        body: bytes,
    ) -> None:
        async with self.database.transaction() as session:
            found = await session.get(IdempotentRequest, (group_id, key))
            if found is not None:
                found.fingerprint, found.status = fingerprint, status
                found.headers, found.body = headers, body

    async def release(self, group_id: int, key: str) -> None:
        """Forget a claim whose request has no answer worth keeping: a retry runs again."""
        async with self.database.transaction() as session:
            await session.execute(
                delete(IdempotentRequest).where(
                    IdempotentRequest.group_id == group_id,
                    IdempotentRequest.key == key,
                    IdempotentRequest.status.is_(None),
                )
            )

    async def _prune_now_and_then(self) -> None:
        if time.monotonic() - self._pruned_at < _PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = time.monotonic()
        cutoff = utcnow() - self.retention
        async with self.database.transaction() as session:
            await session.execute(
                delete(IdempotentRequest).where(IdempotentRequest.created < cutoff)
            )
