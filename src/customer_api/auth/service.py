"""Creating, listing, revoking and resolving API keys."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.auth.models import ApiKey, Group
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


async def resolve_key(session: AsyncSession, plain_key: str) -> Principal | None:
    row = await session.execute(
        select(ApiKey.id, ApiKey.group_id).where(
            ApiKey.key_hash == hash_api_key(plain_key), ApiKey.revoked.is_(None)
        )
    )
    found = row.first()
    return Principal(group_id=found.group_id, key_id=found.id) if found else None
