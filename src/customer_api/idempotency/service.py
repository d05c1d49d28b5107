"""Keeping the answers of requests made with an Idempotency-Key, in the database (so that they
survive a restart and are shared by every worker and host).

Each step is one statement, atomic on its own (no session, no transaction round trips): the
claim is an insert that, on a conflict, takes over only an outlived row; the answer is an
update; a release is a delete.
"""

import functools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from customer_api.core.db import Database
from customer_api.core.timestamps import utcnow
from customer_api.idempotency.models import IdempotentRequest

# A claim this old without an answer belongs to a request whose server died: it is taken over.
ABANDONED_AFTER = timedelta(minutes=10)
_PRUNE_EVERY_SECONDS = 60.0
_table = IdempotentRequest.__table__
# Parameter names differ from the columns': an update may not reuse a column's name.
_THIS_KEY = and_(_table.c.group_id == bindparam("the_group"), _table.c.key == bindparam("the_key"))


@dataclass(frozen=True)
class Kept:
    """What is known of an earlier request with the same key (no status: still running)."""

    fingerprint: str | None
    status: int | None
    headers: list[list[str]]
    body: bytes


_RUNNING = Kept(None, None, [], b"")


@functools.cache
def _claim_statement(dialect: str) -> Any:
    """Insert the claim; on a conflict, take over the row only if it outlived its use."""
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(_table)
    claim = insert.values(
        group_id=bindparam("the_group"), key=bindparam("the_key"), created=bindparam("now")
    )
    outlived = or_(
        _table.c.created < bindparam("expired"),
        and_(_table.c.status.is_(None), _table.c.created < bindparam("abandoned")),
    )
    cleared = {name: null() for name in ("fingerprint", "status", "headers", "body")}
    return claim.on_conflict_do_update(
        index_elements=[_table.c.group_id, _table.c.key],
        set_={"created": claim.excluded.created, **cleared},
        where=outlived,
    ).returning(_table.c.group_id)


_FIND = select(_table.c.fingerprint, _table.c.status, _table.c.headers, _table.c.body).where(
    _THIS_KEY
)
_KEEP = (
    update(_table)
    .where(_THIS_KEY)
    .values(
        fingerprint=bindparam("new_fingerprint"),
        status=bindparam("new_status"),
        headers=bindparam("new_headers"),
        body=bindparam("new_body"),
    )
    .returning(_table.c.group_id)
)
_RELEASE = delete(_table).where(_THIS_KEY, _table.c.status.is_(None)).returning(_table.c.group_id)
_PRUNE = delete(_table).where(_table.c.created < bindparam("expired")).returning(_table.c.group_id)


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
        claimed = await self.database.fetch(
            _claim_statement(self.database.dialect),
            writes=True,
            the_group=group_id,
            the_key=key,
            now=now,
            expired=now - self.retention,
            abandoned=now - ABANDONED_AFTER,
        )
        if claimed:
            return None
        rows = await self.database.fetch(_FIND, the_group=group_id, the_key=key)
        return _kept(rows[0]) if rows else _RUNNING

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
        await self.database.fetch(
            _KEEP,
            writes=True,
            the_group=group_id,
            the_key=key,
            new_fingerprint=fingerprint,
            new_status=status,
            new_headers=headers,
            new_body=body,
        )

    async def release(self, group_id: int, key: str) -> None:
        """Forget a claim whose request has no answer worth keeping: a retry runs again."""
        await self.database.fetch(_RELEASE, writes=True, the_group=group_id, the_key=key)

    async def _prune_now_and_then(self) -> None:
        if time.monotonic() - self._pruned_at < _PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = time.monotonic()
        expired = utcnow() - self.retention
        await self.database.fetch(_PRUNE, writes=True, expired=expired)


def _kept(row: Mapping[str, Any]) -> Kept:
    headers = row["headers"]
    if isinstance(headers, str):  # JSON as the driver gives it, undecoded
        headers = json.loads(headers)
    return Kept(row["fingerprint"], row["status"], headers or [], bytes(row["body"] or b""))
