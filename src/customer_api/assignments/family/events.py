"""The webhook events of this family's changes, with the representation it answers with."""

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.webhooks import service as webhooks


async def emit(
    session: AsyncSession,
    *,
    group_id: int,
    channel: str,
    change: str,
    resource_id: int,
    shown: BaseModel | dict,
) -> None:
    data = shown if isinstance(shown, dict) else shown.model_dump(mode="json", by_alias=True)
    await webhooks.emit(
        session,
        group_id=group_id,
        channel=channel,
        change=change,
        resource_id=resource_id,
        data=data,
    )
