"""/api/1/webhook: subscriptions scoped to the key's group, with a secret shown once."""

import pytest

from tests.helpers import Tenant

HOOK = {"url": "https://hooks.example.com/in", "channels": ["customer"]}


async def test_create_show_list_update_delete(acme: Tenant) -> None:
    created = await acme.client.post("/api/1/webhook", json=HOOK)
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["channels"] == ["customer"] and body["active"] is True
    assert body["eventTypeFilter"] is None and body["disabledReason"] is None
    hook_id = body["id"]

    shown = (await acme.client.get(f"/api/1/webhook/{hook_id}")).json()
    assert "secret" not in shown and shown["url"] == HOOK["url"]
    assert [h["id"] for h in (await acme.client.get("/api/1/webhook")).json()] == [hook_id]

    changed = await acme.client.put(
        f"/api/1/webhook/{hook_id}",
        json={"channels": ["user", "customer"], "eventTypeFilter": r"\.deleted$"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["channels"] == ["customer", "user"]
    assert changed.json()["eventTypeFilter"] == r"\.deleted$"
    assert changed.json()["url"] == HOOK["url"]

    assert (await acme.client.delete(f"/api/1/webhook/{hook_id}")).status_code == 200
    assert (await acme.client.get(f"/api/1/webhook/{hook_id}")).status_code == 404


async def test_another_groups_webhook_is_not_found(acme: Tenant, globex: Tenant) -> None:
    hook_id = (await acme.client.post("/api/1/webhook", json=HOOK)).json()["id"]
    for method in ("GET", "DELETE"):
        answer = await globex.client.request(method, f"/api/1/webhook/{hook_id}")
        assert answer.status_code == 404
        assert answer.json()["success"] is False
    assert (await globex.client.put(f"/api/1/webhook/{hook_id}", json={})).status_code == 404
    assert (await globex.client.get("/api/1/webhook")).json() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "/relative"}, "url"),
        ({"url": "http://10.0.0.5/hook"}, "url"),
        ({"url": "http://169.254.169.254/latest"}, "url"),
        ({"channels": []}, "channels"),
        ({"channels": ["invoice"]}, "channels"),
        ({"eventTypeFilter": "customer.(created"}, "eventTypeFilter"),
        ({"eventTypeFilter": "(a+)+$"}, "eventTypeFilter"),
        ({"eventTypeFilter": "(.*a){25}"}, "eventTypeFilter"),
        ({"eventTypeFilter": "x" * 300}, "eventTypeFilter"),
        ({"secret": "whsec_mine"}, "secret"),
    ],
)
async def test_refused_with_406_naming_the_field(acme: Tenant, change: dict, field: str) -> None:
    answer = await acme.client.post("/api/1/webhook", json={**HOOK, **change})
    assert answer.status_code == 406, answer.text
    assert answer.json()["success"] is False
    assert field in answer.json()["message"]


async def test_rotation_returns_a_new_secret(acme: Tenant) -> None:
    created = (await acme.client.post("/api/1/webhook", json=HOOK)).json()
    rotated = await acme.client.post(f"/api/1/webhook/{created['id']}/secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]


async def test_openapi_describes_the_event_payload(client) -> None:
    document = (await client.get("/openapi.json")).json()
    payload = document["components"]["schemas"]["EventPayload"]
    assert {"type", "timestamp", "data"} <= set(payload["properties"])
    assert "customer.deleted" in str(payload["properties"]["type"])
    create = document["paths"]["/api/1/webhook"]["post"]
    assert "callbacks" in create
