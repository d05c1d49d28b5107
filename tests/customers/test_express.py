"""The express lane answers exactly what the usual way answers.

Every request below goes to two apps on the same database: the app as served (with the lane)
and the same app built without it. Their answers must be the same, field for field, and the lane
must have taken exactly the requests it is meant to take: plain ones.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from customer_api.app import create_app
from customer_api.config import Settings
from tests.helpers import Tenant, api_client

# Fields that differ between any two answers: made anew for each request, or counting down (each
# app counts its own rate limits).
_PER_ANSWER = {"x-request-id", "date", "ratelimit"}


@pytest.fixture
async def usual_way(settings: Settings, app) -> AsyncIterator[Any]:
    """The same server without the express lane, beside the fixture's app."""
    application = create_app(settings, express=False)
    async with application.router.lifespan_context(application):
        yield application


def _seen(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted((k, v) for k, v in response.headers.items() if k not in _PER_ANSWER)
    return response.status_code, headers, response.content


async def _both(app, usual_way, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send the request both ways, check the answers are the same, return the lane's."""
    async with api_client(app) as express, api_client(usual_way) as usual:
        expected = await usual.request(method, url, **kwargs)
        answered = app.state.express.answered
        got = await express.request(method, url, **kwargs)
    assert _seen(got) == _seen(expected), f"{method} {url}"
    got.extensions["express"] = app.state.express.answered - answered
    return got


@pytest.fixture
async def customers(acme: Tenant) -> list[dict[str, Any]]:
    made = []
    for number, active in (("C-1", True), ("C-2", True), ("C-3", False)):
        body = {
            "name": f"Customer {number}",
            "customerNumber": number,
            "active": active,
            "customerProjects": [{"name": "Kitchen"}, {"name": "Roof"}],
        }
        response = await acme.client.post("/api/1/customer", json=body)
        assert response.status_code == 200
        made.append(response.json())
    return made


async def test_reads_answer_the_same_both_ways(app, usual_way, acme: Tenant, customers) -> None:
    key = {"API-Key": acme.key}
    first = customers[0]
    current = (await acme.client.get(f"/api/1/customer/{first['id']}")).headers["etag"]
    cases = [
        # (url, headers, taken by the lane)
        (f"/api/1/customer/{first['id']}", key, True),
        (f"/api/1/customer/{first['uuid']}", key, True),
        (f"/api/1/customer/{customers[2]['id']}", key, True),  # inactive: still shown
        ("/api/1/customer/99999", key, True),  # 404
        (f"/api/1/customer/{first['id']}", {**key, "If-None-Match": current}, True),  # 304
        (f"/api/1/customer/{first['id']}", {**key, "If-None-Match": '"stale"'}, True),
        (f"/api/1/customer/{first['id']}", {"Authorization": f"Bearer {acme.key}"}, True),
        (f"/api/1/customer/{first['id']}", {"API-Token": acme.key}, True),
        (f"/api/1/customer/{first['id']}", {}, True),  # 401
        (f"/api/1/customer/{first['id']}", {"API-Key": "cak_not_a_key"}, True),  # 401
        (f"/api/1/customer/{first['id']}?api_key={acme.key}", {}, False),
        (f"/api/1/customer/{first['id']}?verbose=1", key, False),  # 400, unknown parameter
        ("/api/1/customer", key, True),
        ("/api/1/customer?limit=1", key, True),
        ("/api/1/customer?limit=1&offset=1", key, True),
        (f"/api/1/customer?after={first['id']}", key, True),
        ("/api/1/customer?limit=0", key, True),  # 204
        ("/api/1/customer?limit=1001", key, False),  # 400
        ("/api/1/customer?limit=-1", key, False),
        ("/api/1/customer?limit=abc", key, False),
        ("/api/1/customer?limit=1&limit=2", key, False),
        ("/api/1/customer?inactive", key, False),
        ("/api/1/customer?inactive=", key, False),
        ("/api/1/customer?modified=2015-10-05", key, False),
        ("/api/1/customer?limt=5", key, False),
        ("/api/1/customer/search?q=Customer", key, False),
    ]
    for url, headers, taken in cases:
        response = await _both(app, usual_way, "GET", url, headers=headers)
        assert response.extensions["express"] == int(taken), url


def _without_identity(detail: dict[str, Any]) -> dict[str, Any]:
    """A created customer's answer without what each creation makes anew."""
    fresh = {"id", "uuid", "created", "modified"}
    shown = {k: v for k, v in detail.items() if k not in fresh}
    shown["customerProjects"] = [
        {k: v for k, v in project.items() if k not in fresh}
        for project in detail["customerProjects"]
    ]
    return shown


async def test_a_create_makes_the_same_customer_both_ways(app, usual_way, acme: Tenant) -> None:
    body = {"name": "Wendy Warner", "phone": "070-1", "customerProjects": [{"name": "Floor"}]}
    answered = app.state.express.answered
    async with api_client(app) as express, api_client(usual_way) as usual:
        by_lane = await express.post("/api/1/customer", json=body, headers={"API-Key": acme.key})
        assert app.state.express.answered == answered + 1
        by_usual = await usual.post("/api/1/customer", json=body, headers={"API-Key": acme.key})
    assert by_lane.status_code == by_usual.status_code == 200
    assert _without_identity(by_lane.json()) == _without_identity(by_usual.json())
    assert by_lane.headers["etag"] and by_lane.headers["content-type"] == "application/json"
    listed = (await acme.client.get("/api/1/customer")).json()
    assert [customer["name"] for customer in listed] == ["Wendy Warner", "Wendy Warner"]


async def test_refused_creates_answer_the_same_both_ways(
    app, usual_way, settings: Settings, acme: Tenant, customers
) -> None:
    key = {"API-Key": acme.key}
    too_large = b'{"name": "' + b"x" * settings.max_json_bytes + b'"}'
    json_key = {**key, "Content-Type": "application/json"}
    cases = [
        # (headers, body, taken by the lane)
        (json_key, b'{"name": "Dup", "customerNumber": "C-1"}', True),  # 409
        (json_key, b'{"name": ', False),  # 406, malformed
        (json_key, b'{"phone": "1"}', False),  # 406, no name
        (json_key, b"[]", False),
        (json_key, too_large, True),  # 413
        ({**key, "Content-Type": "application/x-www-form-urlencoded"}, b"name=x", False),
        ({"Content-Type": "application/json"}, b'{"name": "No key"}', True),  # 401, closed
        ({**json_key, "API-Key": "cak_not_a_key"}, b'{"name": "Bad key"}', True),
    ]
    for headers, content, taken in cases:
        response = await _both(
            app, usual_way, "POST", "/api/1/customer", headers=headers, content=content
        )
        assert response.status_code != 200, content
        assert response.extensions["express"] == int(taken), content
    listed = (await acme.client.get("/api/1/customer?inactive")).json()
    assert len(listed) == len(customers)


async def test_a_keyed_create_goes_the_usual_way(app, acme: Tenant) -> None:
    headers = {"Idempotency-Key": "order-7"}
    answered = app.state.express.answered
    first = await acme.client.post("/api/1/customer", json={"name": "Once"}, headers=headers)
    again = await acme.client.post("/api/1/customer", json={"name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert app.state.express.answered == answered
