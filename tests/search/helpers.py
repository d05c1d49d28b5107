"""Searching over the API, as a client does, and the command line run as an operator runs it."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

import customer_api

SEARCH = "/api/1/customer/search"
# This checkout's package, wherever the command runs from.
SOURCE_DIR = str(Path(customer_api.__file__).resolve().parents[1])


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


def run_cli(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """``customer-api ARGS`` in a process of its own, on a SQLite database in ``tmp_path``."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CUSTOMER_API_")},
        "PYTHONPATH": SOURCE_DIR,
        "CUSTOMER_API_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        **{f"CUSTOMER_API_{name.upper()}": value for name, value in settings.items()},
    }
    return subprocess.run(
        [sys.executable, "-m", "customer_api", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
