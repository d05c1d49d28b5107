"""``customer-api serve`` end to end with Elasticsearch's API on a real engine (osmem-server or
CUSTOMER_API_TEST_ELASTICSEARCH_URL): the in-process indexer carries each change to the engine
by itself, and /api/1 search answers from it."""

import time
from pathlib import Path
from uuid import uuid4

import httpx

from tests.live_server import LiveServer, live_server
from tests.search.helpers import SEARCH

SECONDS_TO_SHOW_UP = 10


def _names(server: LiveServer, key: str, q: str) -> list[str]:
    response = httpx.get(
        f"{server.base_url}{SEARCH}", params={"q": q}, headers={"API-Key": key}, timeout=10
    )
    assert response.status_code in (200, 204), response.text
    return [entry["name"] for entry in response.json()] if response.status_code == 200 else []


def _wait_for(server: LiveServer, key: str, q: str, expected: list[str]) -> None:
    deadline = time.monotonic() + SECONDS_TO_SHOW_UP
    while (found := _names(server, key, q)) != expected:
        assert time.monotonic() < deadline, f"{q!r}: {found}, not {expected}"
        time.sleep(0.05)


def test_serve_keeps_the_engine_in_step(tmp_path: Path, elasticsearch_url: str) -> None:
    settings = {
        "ELASTICSEARCH_URL": elasticsearch_url,
        "ELASTICSEARCH_INDEX": f"served-{uuid4().hex}",
    }
    with live_server(tmp_path, settings=settings) as server:
        key = server.first_key
        base, headers = f"{server.base_url}/api/1/customer", {"API-Key": key}
        created = httpx.post(
            base, json={"name": "Horse Stables", "notes": "saddles"}, headers=headers
        ).json()
        httpx.post(base, json={"name": "Wendy Warner"}, headers=headers)
        _wait_for(server, key, "hor", ["Horse Stables"])
        _wait_for(server, key, "saddles wendy", ["Wendy Warner", "Horse Stables"])

        httpx.put(f"{base}/{created['id']}", json={"name": "Pony Club"}, headers=headers)
        _wait_for(server, key, "pony", ["Pony Club"])
        _wait_for(server, key, "horse", [])

        httpx.delete(f"{base}/{created['id']}", headers=headers)
        _wait_for(server, key, "saddles", [])
