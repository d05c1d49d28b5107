"""The public OpenAPI document tells what the server does: one plain name per schema, the media
types really served, and flags documented as exactly what is accepted."""

import jsonschema_rs
import pytest

from tests.documents.helpers import upload

V1 = "/api/v1.0"


@pytest.fixture
async def document(anonymous) -> dict:
    return (await anonymous.get("/openapi.json")).json()


def _validator(schema: dict):
    return jsonschema_rs.Draft202012Validator(schema)


def _query_schema(document: dict, path: str, name: str) -> dict:
    [parameter] = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
    return parameter["schema"]


async def test_every_schema_has_one_plain_name(document) -> None:
    names = list(document["components"]["schemas"])
    assert all(name.isidentifier() and "__" not in name and "_" not in name for name in names)
    assert {"CustomerRead", "CustomerRecord", "AssignmentPage", "CustomerRecordPage"} <= set(names)
    listing = document["paths"]["/api/1/customer"]["get"]["responses"]["200"]
    schema = listing["content"]["application/json"]["schema"]
    assert schema["items"] == {"$ref": "#/components/schemas/CustomerRead"}


async def test_the_vault_documents_the_stored_type_it_serves(client, document) -> None:
    operation = document["paths"]["/vault/document/{document_uuid}"]["get"]
    assert "*/*" in operation["responses"]["200"]["content"]
    assert "*/*" in operation["responses"]["206"]["content"]
    stored = await upload(client, b"%PDF-1.4\n%%EOF\n", "plan.pdf")
    served = await client.get(f"/vault/document/{stored['uuid']}")
    assert served.headers["content-type"] == "application/pdf"
    thumbnail = document["paths"]["/vault/thumbnail/{document_uuid}"]["get"]["responses"]["200"]
    assert set(thumbnail["content"]) == {"image/jpeg", "image/png"}


# Flags of /api/v1.0 bodies are read leniently, as that family's clients send them.
FLAG_VALUES = [True, False, 0, 1, 1.0, "true", "FALSE", "Yes", "no", "on", "off", "t", "N", "1"]
NOT_FLAGS = [2, 0.5, "perhaps", "", " true", "ja", [], {}]


@pytest.mark.parametrize("value", FLAG_VALUES + NOT_FLAGS)
async def test_a_users_enabled_flag_is_accepted_exactly_as_documented(
    client, document, value
) -> None:
    schema = document["components"]["schemas"]["UserCreate"]["properties"]["enabled"]
    response = await client.post(f"{V1}/users", json={"reference": "U-1", "enabled": value})
    assert (response.status_code == 201) is _validator(schema).is_valid(value), response.text
    assert (value in FLAG_VALUES) is _validator(schema).is_valid(value)


@pytest.mark.parametrize("value", ["YES", 1, "on", True])
async def test_use_external_id_true_in_any_documented_form_takes_references(
    client, document, value
) -> None:
    await client.post("/api/1/customer", json={"name": "Joe", "customerNumber": "C-2"})
    await client.post(f"{V1}/users", json={"reference": "U-1"})
    body = {"userId": "U-1", "customerId": "C-2", "useExternalId": value}
    assert _validator(document["components"]["schemas"]["AssignmentWrite"]).is_valid(body)
    response = await client.post(f"{V1}/customerEmployees", json=body)
    assert response.status_code == 201, response.text


async def test_a_reference_without_use_external_id_is_refused_as_documented(
    client, document
) -> None:
    body = {"userId": "U-1", "customerId": "C-2", "useExternalId": "no"}
    assert not _validator(document["components"]["schemas"]["AssignmentWrite"]).is_valid(body)
    response = await client.post(f"{V1}/customerEmployees", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_param_type"


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("true", True), ("False", True), ("1", True), ("0", True), ("", True), ("yes", False)],
)
async def test_is_active_is_accepted_exactly_as_documented(client, document, value, accepted):
    schema = _query_schema(document, f"{V1}/customers", "isActive")
    assert _validator(schema).is_valid(value) is accepted
    response = await client.get(f"{V1}/customers", params={"isActive": value})
    assert (response.status_code == 200) is accepted, response.text


@pytest.mark.parametrize("path", ["/api/1/customer", "/api/1/customer/search"])
async def test_inactive_is_documented_as_any_text(client, document, path: str) -> None:
    """A flag that is on when present whatever its value (false and 0 turn it off)."""
    schema = _query_schema(document, path, "inactive")
    assert schema["type"] == "string"
    await client.post("/api/1/customer", json={"name": "Old Horse", "active": False})
    query = {"q": "horse"} if path.endswith("/search") else {}
    for value, found in [("", 200), ("maybe", 200), ("false", 204), ("0", 204)]:
        response = await client.get(path, params={**query, "inactive": value})
        assert response.status_code == found, (value, response.text)


async def test_every_error_answer_declares_its_body(document) -> None:
    """429, 503 (overload, outages, thumbnails waiting) and 416 too: JSON in the family's shape."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status[0] in "45":
                    assert "application/json" in answer.get("content", {}), (path, method, status)
    users = document["paths"]["/api/v1.0/users"]["get"]["responses"]["503"]
    assert users["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "Retry-After" in users["headers"]
