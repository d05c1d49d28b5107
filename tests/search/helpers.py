"""Searching over the API, as a client does."""

from typing import Any

import httpx

SEARCH = "/api/1/customer/search"


async def search(client: httpx.AsyncClient, q: str, **params: Any) -> list[dict[str, Any]]:
    """The entries found (an empty list for 204); fails on any other status."""
    response = await client.get(SEARCH, params={"q": q, **params})
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.text
    return response.json()


async def names(client: httpx.AsyncClient, q: str, **params: Any) -> list[str]:
    return [entry["name"] for entry in await search(client, q, **params)]


class RecordedProgress:
    """A rebuild's progress, as a progress bar would receive it."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0

    def begin(self, description: str, total: int) -> None:
        self.total = total

    def advance(self, count: int) -> None:
        self.done += count
