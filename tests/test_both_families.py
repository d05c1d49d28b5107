"""The two families' shared manners (docs/decisions.md, "One manner in both families"): unknown
query parameters, bodies without a Content-Type, page sizes over the maximum, flag values."""

import pytest

from tests.helpers import assert_error


def assert_customer_error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"] == code, body
    return body["message"]


@pytest.mark.parametrize(
    "path",
    ["/api/1/customer?limt=5", "/api/1/customer/search?q=x&limt=5", "/api/1/customer/1?full=1"],
)
async def test_an_unknown_query_parameter_is_named_in_both_families(client, path) -> None:
    message = assert_customer_error(await client.get(path), 400, "invalid_parameter")
    assert "limt" in message or "full" in message
    assert_error(
        await client.get("/api/v1.0/customers?limt=5"),
        400,
        "invalid_param",
        "The parameters [limt] you provided are not valid for this request.",
    )


async def test_the_key_in_the_query_is_no_unknown_parameter(client, acme, anonymous) -> None:
    assert (await anonymous.get(f"/api/1/customer?api_key={acme.key}")).status_code == 204
    assert (await anonymous.get(f"/api/1/customer?api_token={acme.key}&limit=5")).status_code == 204
    # Without a key, the key's answer comes first: nothing is learnt about parameters.
    assert (await anonymous.get("/api/1/customer?limt=5")).status_code == 401


async def test_a_json_body_without_content_type_is_read_as_json_in_both(client) -> None:
    created = await client.post("/api/1/customer", content=b'{"name": "No type"}')
    assert "content-type" not in created.request.headers
    assert created.status_code == 200, created.text
    changed = await client.put(
        f"/api/1/customer/{created.json()['id']}",
        content=b'{"phone": "1"}',
    )
    assert changed.status_code == 200 and changed.json()["phone"] == "1"
    user = await client.post("/api/v1.0/users", content=b'{"reference": "U-1"}')
    assert user.status_code == 201, user.text


async def test_a_body_sent_as_another_media_type_is_refused_in_both(client) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    message = assert_customer_error(
        await client.post("/api/1/customer", content=b'{"name": "x"}', headers=form),
        406,
        "invalid_body",
    )
    assert "Content-Type: application/json" in message
    body = assert_error(
        await client.post("/api/v1.0/users", content=b'{"reference": "U-1"}', headers=form),
        400,
        "invalid_json",
    )
    assert "Content-Type: application/json" in body["error_description"]


async def test_over_the_maximum_is_never_answered_silently(client) -> None:
    """/api/1 has no envelope to say a page was cut short: refused. /api/v1.0 says it in
    paging.max and its next link."""
    message = assert_customer_error(
        await client.get("/api/1/customer?limit=1001"), 400, "invalid_parameter"
    )
    assert "limit" in message and "1000" in message
    paging = (await client.get("/api/v1.0/customers?max=1001")).json()["paging"]
    assert paging["max"] == 1000


async def test_flags_keep_each_family_s_documented_reading(client) -> None:
    """/api/1's inactive is present-means-on (the contract); /api/v1.0's isActive is a boolean."""
    made = await client.post("/api/1/customer", json={"name": "Dormant", "active": False})
    assert made.status_code == 200
    for value in ("", "true", "maybe", "yes"):
        listed = await client.get(f"/api/1/customer?inactive={value}")
        assert [c["name"] for c in listed.json()] == ["Dormant"], value
    for value in ("false", "0"):
        assert (await client.get(f"/api/1/customer?inactive={value}")).status_code == 204
    assert_error(await client.get("/api/v1.0/customers?isActive=maybe"), 400, "invalid_param_type")
