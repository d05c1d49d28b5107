"""Every key form of SPEC section 3, and the 401s."""

import pytest

from tests.helpers import make_key


@pytest.mark.parametrize(
    "form",
    ["API-Key header", "API-Token header", "Bearer", "api_key query", "api_token query"],
)
async def test_every_key_form_is_accepted(app, anonymous, acme, form: str) -> None:
    headers, params = {}, {}
    if form == "API-Key header":
        headers["API-Key"] = acme.key
    elif form == "API-Token header":
        headers["API-Token"] = acme.key
    elif form == "Bearer":
        headers["Authorization"] = f"Bearer {acme.key}"
    else:
        params[form.split()[0]] = acme.key
    response = await anonymous.get("/api/1/customer", headers=headers, params=params)
    assert response.status_code == 204


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"API-Key": ""},
        {"API-Key": "cak_not-a-real-key"},
        {"API-Key": "x" * 5000},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ],
)
async def test_missing_or_unknown_key_is_401_in_family_shape(anonymous, headers) -> None:
    response = await anonymous.get("/api/1/customer", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False
    assert body["error"] == "unauthorized"


async def test_keys_are_stored_only_as_hashes(app) -> None:
    _, key = await make_key(app, "Acme")
    async with app.state.database.engine.connect() as connection:
        rows = (await connection.exec_driver_sql("SELECT key_hash, prefix FROM api_keys")).all()
    assert len(rows) == 1
    key_hash, prefix = rows[0]
    assert key not in key_hash and key_hash != key
    assert key.startswith(prefix) and len(prefix) < len(key) // 2


async def test_two_keys_of_one_group_see_the_same_customers(app, anonymous) -> None:
    _, first = await make_key(app, "Acme")
    _, second = await make_key(app, "Acme")
    await anonymous.post("/api/1/customer", json={"name": "Shared"}, headers={"API-Key": first})
    listed = await anonymous.get("/api/1/customer", headers={"API-Key": second})
    assert [c["name"] for c in listed.json()] == ["Shared"]


async def test_probes_need_no_key(anonymous) -> None:
    assert (await anonymous.get("/health")).json() == {"status": "ok"}
    ready = await anonymous.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


async def test_openapi_declares_the_key_scheme(anonymous) -> None:
    document = (await anonymous.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    header = {
        name: value for name, value in schemes["ApiKeyHeader"].items() if name != "description"
    }
    assert header == {"type": "apiKey", "in": "header", "name": "API-Key"}
    operation = document["paths"]["/api/1/customer"]["get"]
    assert {"ApiKeyHeader": []} in operation["security"]
    assert "401" in operation["responses"]


async def test_ready_is_503_when_the_database_is_unreachable(tmp_path) -> None:
    import httpx

    from customer_api.app import create_app
    from customer_api.config import Settings

    unreachable = Settings(
        database_url="postgresql://nobody@127.0.0.1:1/none", vault_dir=tmp_path, _env_file=None
    )
    application = create_app(unreachable)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/ready")).status_code == 503
            response = await client.get("/api/1/customer", headers={"API-Key": "cak_x"})
            assert response.status_code == 503
            assert response.json()["error"] == "service_unavailable"
