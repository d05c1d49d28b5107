"""Creating, listing, revoking and resolving API keys."""

from dataclasses import dataclass
from datetime import datetime

from cachetools import TTLCache
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.auth.models import ApiKey, Group
from customer_api.core.db import Database
from customer_api.core.security import display_prefix, generate_api_key, hash_api_key
from customer_api.core.timestamps import utcnow


@dataclass(frozen=True)
class Principal:
    """Who is calling: the group every query of the request is scoped to."""

    group_id: int
    key_id: int


@dataclass(frozen=True)
class KeyInfo:
    id: int
    group: str
    prefix: str
    created: datetime
    revoked: datetime | None


async def get_or_create_group(session: AsyncSession, *, name: str) -> Group:
    group = await session.scalar(select(Group).where(Group.name == name))
    if group is None:
        group = Group(name=name)
        session.add(group)
        await session.flush()
    return group


async def create_key(session: AsyncSession, *, group_name: str) -> tuple[ApiKey, str]:
    """Make a key for the group (creating the group if new); the plain key is returned once."""
    group = await get_or_create_group(session, name=group_name)
    plain = generate_api_key()
    key = ApiKey(group_id=group.id, key_hash=hash_api_key(plain), prefix=display_prefix(plain))
    session.add(key)
    await session.flush()
    return key, plain


async def count_keys(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(ApiKey)) or 0


async def list_keys(session: AsyncSession) -> list[KeyInfo]:
    rows = await session.execute(
        select(ApiKey, Group.name).join(Group, Group.id == ApiKey.group_id).order_by(ApiKey.id)
    )
    return [
        KeyInfo(key.id, group_name, key.prefix, key.created, key.revoked)
        for key, group_name in rows.all()
    ]


async def revoke_key(session: AsyncSession, *, key_id: int) -> bool:
    """Revoke a key; False when there is no such key. Revoking twice keeps the first time."""
    key = await session.get(ApiKey, key_id)
    if key is None:
        return False
    if key.revoked is None:
        key.revoked = utcnow()
    return True


_VALID_KEY = select(ApiKey.id, ApiKey.group_id).where(
    ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked.is_(None)
)
KEY_CACHE_ENTRIES = 10_000


class KeyResolver:
    """Keys to principals, remembered by key hash for ``ttl`` seconds, so that an authenticated
    request costs no query.

    A key revoked in the database (by any process) stops working everywhere once its entry
    expires: within ``ttl`` seconds. Only valid keys are remembered, in a bounded cache, so
    unknown keys cost one lookup each (as without a cache) and cannot push valid keys out by
    the thousand. ``ttl=0`` looks every key up every time.
    """

    def __init__(self, database: Database, *, ttl: float) -> None:
        self._database = database
        self._known: TTLCache[str, Principal] | None = (
            TTLCache(maxsize=KEY_CACHE_ENTRIES, ttl=ttl) if ttl > 0 else None
        )

    async def resolve(self, plain_key: str) -> Principal | None:
        key_hash = hash_api_key(plain_key)
        if self._known is not None and (known := self._known.get(key_hash)) is not None:
            return known
        rows = await self._database.fetch(_VALID_KEY, key_hash=key_hash)
        principal = Principal(group_id=rows[0]["group_id"], key_id=rows[0]["id"]) if rows else None
        if principal is not None and self._known is not None:
            self._known[key_hash] = principal
        return principal
