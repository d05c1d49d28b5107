"""The app's vault storage and thumbnailer, for the routes that need them."""

from typing import Annotated

from fastapi import Depends, Request

from customer_api.vault.storage import VaultStorage
from customer_api.vault.thumbnails import Thumbnailer


async def get_vault(request: Request) -> VaultStorage:
    return request.app.state.vault


async def get_thumbnailer(request: Request) -> Thumbnailer:
    return request.app.state.thumbnailer


VaultDep = Annotated[VaultStorage, Depends(get_vault)]
ThumbnailerDep = Annotated[Thumbnailer, Depends(get_thumbnailer)]
