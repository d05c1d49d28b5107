"""The app's vault storage, for the routes that need it."""

from typing import Annotated

from fastapi import Depends, Request

from customer_api.vault.storage import VaultStorage


async def get_vault(request: Request) -> VaultStorage:
    return request.app.state.vault


VaultDep = Annotated[VaultStorage, Depends(get_vault)]
