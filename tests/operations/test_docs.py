"""The docs pages work without internet: every asset comes from this server."""

import re

import pytest

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_name_no_outside_address(anonymous, page: str) -> None:
    response = await anonymous.get(page)
    assert response.status_code == 200
    html = response.text
    assert "http://" not in html and "https://" not in html and '"//' not in html
    assets = ASSET.findall(html)
    assert assets and all(asset.startswith("/static-offline-docs/") for asset in assets)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_assets_are_served_here(anonymous, page: str) -> None:
    html = (await anonymous.get(page)).text
    for asset in ASSET.findall(html):
        response = await anonymous.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000, asset
        expected = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
        suffix = asset[asset.rindex(".") :]
        assert expected[suffix] in response.headers["content-type"], asset


async def test_swagger_ui_remembers_the_key_and_asks_no_validator(anonymous) -> None:
    html = (await anonymous.get("/docs")).text
    assert '"persistAuthorization": true' in html
    assert '"validatorUrl": null' in html
    assert "url: '/openapi.json'" in html


async def test_the_api_key_is_the_authorize_scheme(anonymous) -> None:
    document = (await anonymous.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    described = {name: scheme.pop("description") for name, scheme in schemes.items()}
    assert schemes["ApiKeyHeader"] == {"type": "apiKey", "in": "header", "name": "API-Key"}
    assert schemes["ApiKeyQuery"] == {"type": "apiKey", "in": "query", "name": "api_key"}
    assert schemes["Bearer"]["scheme"] == "bearer"
    # The Authorize dialog shows three schemes: each says they are alternatives.
    assert all("fill in one of them" in text for text in described.values())
    listing = document["paths"]["/api/1/customer"]["get"]
    assert {"ApiKeyHeader": []} in listing["security"]


async def test_document_lists_the_statuses_the_server_really_sends(anonymous) -> None:
    document = (await anonymous.get("/openapi.json")).json()
    operations = [op for ops in document["paths"].values() for op in ops.values()]
    # The framework's 422 is never sent; the only 422 is a reused Idempotency-Key.
    for operation in operations:
        if "422" in operation["responses"]:
            assert "Idempotency-Key" in operation["responses"]["422"]["description"]
            assert "Idempotency-Key" in [p["name"] for p in operation["parameters"]]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    create = document["paths"]["/api/1/customer"]["post"]["responses"]
    assert create["413"]["content"] == create["406"]["content"]
    assert create["422"]["content"] == create["406"]["content"]
    update = document["paths"]["/api/1/customer/{customer_id}"]["put"]
    assert {"If-Match", "Idempotency-Key"} <= {p["name"] for p in update["parameters"]}
    assert "412" in update["responses"]
    read = document["paths"]["/api/1/customer/{customer_id}"]["get"]
    assert "ETag" in read["responses"]["200"]["headers"]
    assert "304" in read["responses"]
