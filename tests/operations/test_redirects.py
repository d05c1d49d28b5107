"""A URL with a trailing slash too many (or too few) is redirected with a relative Location: the
client stays on the host it asked, whatever Host header reached the server."""

import pytest

from tests.documents.helpers import assert_family_error


async def test_the_redirect_never_names_the_host_the_request_claimed(anonymous) -> None:
    response = await anonymous.get("/health/", headers={"Host": "evil.com"})
    assert response.status_code == 307
    assert response.headers["location"] == "/health"
    assert "evil.com" not in response.text


async def test_following_the_redirect_stays_on_the_server_asked(anonymous) -> None:
    response = await anonymous.get("/health/", headers={"Host": "evil.com"}, follow_redirects=True)
    assert response.status_code == 200
    assert response.url.host == "testserver"
    assert [step.status_code for step in response.history] == [307]


async def test_the_query_goes_along_and_the_key_still_works(anonymous, acme) -> None:
    created = await acme.client.post("/api/1/customer", json={"name": "Wendy"})
    assert created.status_code == 200
    response = await anonymous.get(f"/api/1/customer/?api_key={acme.key}&limit=5")
    assert response.status_code == 307
    assert response.headers["location"] == f"/api/1/customer?api_key={acme.key}&limit=5"
    followed = await anonymous.get(
        f"/api/1/customer/?api_key={acme.key}&limit=5", follow_redirects=True
    )
    assert [customer["name"] for customer in followed.json()] == ["Wendy"]


async def test_a_redirect_tells_nothing_about_the_data(anonymous, acme) -> None:
    created = await acme.client.post("/api/1/customer", json={"name": "Wendy"})
    existing = created.json()["id"]
    answers = [
        await anonymous.get(f"/api/1/customer/{existing}/"),
        await acme.client.get(f"/api/1/customer/{existing}/"),
        await acme.client.get("/api/1/customer/999999/"),
    ]
    assert {(r.status_code, r.content) for r in answers} == {(307, b"")}
    assert (
        await anonymous.get(f"/api/1/customer/{existing}/", follow_redirects=True)
    ).status_code == 401


async def test_a_write_is_redirected_with_its_method(acme) -> None:
    response = await acme.client.post("/api/1/customer/", json={"name": "Wendy"})
    assert response.status_code == 307
    assert response.headers["location"] == "/api/1/customer"


@pytest.mark.parametrize("path", ["/nothing/here/", "/api/1/nothing", "/"])
async def test_a_path_no_route_takes_in_either_form_is_404(anonymous, path: str) -> None:
    response = await anonymous.get(path, headers={"Host": "evil.com"})
    assert_family_error(response, 404)
    assert "location" not in response.headers
