"""Deliveries through the API, /metrics, ping, rotation, turning off, and the SSRF guard."""

import datetime as dt

import standardwebhooks

from customer_api.webhooks.dispatcher import Dispatcher
from customer_api.webhooks.signing import new_secret, sign
from tests.helpers import Tenant
from tests.webhooks.helpers import policy, subscribe, until
from tests.webhooks.receiver import Receiver


async def test_ping_and_the_deliveries_it_leaves(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await subscribe(acme, receiver, channels=["route"])
    receiver.answers = [500]
    pinged = await acme.client.post(f"/api/1/webhook/{hook['id']}/ping")
    assert pinged.status_code == 200
    await until(lambda: len(receiver.accepted()) == 1, dispatcher)
    await dispatcher.drain()
    [payload] = receiver.verified(hook["secret"])
    assert payload["type"] == "ping" and payload["data"]["webhookId"] == hook["id"]
    assert payload["id"] == pinged.json()["messageId"]

    [delivery] = (await acme.client.get(f"/api/1/webhook/{hook['id']}/deliveries")).json()
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 2 and delivery["responseStatus"] == 200
    assert delivery["type"] == "ping" and delivery["messageId"] == payload["id"]
    assert delivery["lastError"] is None and delivery["finished"] is not None


async def test_metrics_count_deliveries_and_the_oldest_pending(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher, anonymous
) -> None:
    await subscribe(acme, receiver)
    await acme.client.post("/api/1/customer", json={"name": "A"})
    text = (await anonymous.get("/metrics")).text
    assert "customer_api_webhook_oldest_pending_seconds" in text
    assert _value(text, "customer_api_webhook_oldest_pending_seconds") >= 0
    await until(lambda: len(receiver.accepted()) == 1, dispatcher)
    text = (await anonymous.get("/metrics")).text
    assert _value(text, 'customer_api_webhook_deliveries{status="delivered"}') == 1
    assert _value(text, 'customer_api_webhook_deliveries{status="pending"}') == 0
    assert _value(text, "customer_api_webhook_oldest_pending_seconds") == 0


def _value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


async def test_rotation_signs_with_both_secrets_for_the_overlap(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await subscribe(acme, receiver)
    rotated = (await acme.client.post(f"/api/1/webhook/{hook['id']}/secret")).json()
    await acme.client.post("/api/1/customer", json={"name": "A"})
    await until(lambda: len(receiver.accepted()) == 1, dispatcher)
    assert len(receiver.verified(hook["secret"])) == 1
    assert len(receiver.verified(rotated["secret"])) == 1
    assert len(receiver.accepted()[0].headers["webhook-signature"].split(" ")) == 2


async def test_a_failing_endpoint_is_turned_off_saying_why_and_resumes(
    acme: Tenant, receiver: Receiver, app
) -> None:
    hook = await subscribe(acme, receiver)
    receiver.answers = [500] * 3
    strict = Dispatcher(app.state.database, policy(disable_after_failures=3))
    try:
        await acme.client.post("/api/1/customer", json={"name": "A"})
        await until(lambda: len(receiver.received) == 3, strict)
        await strict.drain()
        shown = (await acme.client.get(f"/api/1/webhook/{hook['id']}")).json()
        assert shown["active"] is False
        assert "3 failed attempts in a row" in shown["disabledReason"]
        assert "HTTP 500" in shown["disabledReason"]
        await strict.drain()
        assert len(receiver.received) == 3  # off: nothing more is tried

        resumed = await acme.client.put(f"/api/1/webhook/{hook['id']}", json={"active": True})
        assert resumed.json()["disabledReason"] is None
        await until(lambda: len(receiver.accepted()) == 1, strict)
    finally:
        await strict.aclose()
    assert receiver.types() == ["customer.created"]


async def test_private_addresses_are_never_reached_unless_allowed(
    acme: Tenant, receiver: Receiver, app
) -> None:
    """The name resolves to loopback; without the operator's allowance nothing is sent."""
    port = receiver.server.server_address[1]
    hook = await subscribe(acme, receiver)
    await acme.client.put(f"/api/1/webhook/{hook['id']}", json={"url": f"http://localhost:{port}/"})
    guarded = Dispatcher(app.state.database, policy(allowed=(), retry_delays=(60.0,)))
    try:
        await acme.client.post("/api/1/customer", json={"name": "A"})
        await guarded.drain()
    finally:
        await guarded.aclose()
    assert receiver.received == []
    [delivery] = (await acme.client.get(f"/api/1/webhook/{hook['id']}/deliveries")).json()
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert delivery["lastError"].startswith("blocked: localhost resolves to 127.0.0.1")


async def test_redirects_are_not_followed(acme: Tenant, receiver: Receiver, dispatcher) -> None:
    hook = await subscribe(acme, receiver)
    receiver.answers = [302]
    await acme.client.post(f"/api/1/webhook/{hook['id']}/ping")
    await until(lambda: len(receiver.accepted()) == 1, dispatcher)
    assert [r.headers["x-answered"] for r in receiver.received] == ["302", "200"]


def test_the_reference_library_signs_as_we_do() -> None:
    secret = new_secret()
    body = b'{"type":"ping"}'
    ours = sign(secret, message_id="msg_1", timestamp=1_700_000_000, body=body)
    theirs = standardwebhooks.Webhook(secret).sign(
        "msg_1", dt.datetime.fromtimestamp(1_700_000_000, dt.UTC), body.decode()
    )
    assert ours == theirs
