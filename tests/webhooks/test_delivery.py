"""End to end: changes through the API arrive at a real receiver on loopback, signed, once, in
order; verified with the Standard Webhooks library."""

import standardwebhooks
from sqlalchemy import func, select

from customer_api.webhooks.dispatcher import Dispatcher
from customer_api.webhooks.models import WebhookEvent
from tests.helpers import Tenant
from tests.webhooks.helpers import subscribe, until
from tests.webhooks.receiver import Receiver


async def _upload(tenant: Tenant) -> dict:
    files = {"file": ("notes.txt", b"hello there", "text/plain")}
    answer = await tenant.client.post("/api/1/document/content", files=files)
    assert answer.status_code == 200, answer.text
    return answer.json()["document"]


async def test_each_change_arrives_once_signed(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    hook = await subscribe(acme, receiver)
    created = (await acme.client.post("/api/1/customer", json={"name": "Wendy"})).json()
    cid = created["id"]
    updated = await acme.client.put(f"/api/1/customer/{cid}", json={"city": "Lund"})
    document = await _upload(acme)
    renamed = await acme.client.put(f"/api/1/document/{document['id']}", json={"description": "x"})
    assert (await acme.client.put(f"/api/1/customer/{cid}/document/{document['id']}")).is_success
    assert (await acme.client.delete(f"/api/1/customer/{cid}/document/{document['id']}")).is_success
    assert (await acme.client.delete(f"/api/1/customer/{cid}")).status_code == 200

    expected = [
        "customer.created",
        "customer.updated",
        "document.created",
        "document.updated",
        "document.attached",
        "document.detached",
        "customer.deleted",
    ]
    await until(lambda: len(receiver.accepted()) >= len(expected), dispatcher)
    await dispatcher.drain()
    payloads = receiver.verified(hook["secret"])
    assert sorted(p["type"] for p in payloads) == sorted(expected)
    assert len({r.headers["webhook-id"] for r in receiver.accepted()}) == len(expected)
    by_type = {p["type"]: p for p in payloads}
    assert by_type["customer.created"]["data"] == created
    assert by_type["customer.updated"]["data"] == updated.json()
    assert by_type["document.updated"]["data"] == renamed.json()
    assert by_type["document.attached"]["data"]["customer"] == {"id": cid, "uuid": created["uuid"]}
    assert by_type["customer.deleted"]["data"] == {
        "id": cid,
        "uuid": created["uuid"],
        "customerNumber": None,
    }
    for payload in payloads:
        assert payload["groupId"] == acme.group_id
        assert payload["timestamp"].endswith("Z")
        assert payload["id"].startswith("msg_")
    customer_events = [t for t in receiver.types() if t.startswith("customer.")]
    assert customer_events == ["customer.created", "customer.updated", "customer.deleted"]


async def test_a_wrong_secret_does_not_verify(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    await subscribe(acme, receiver)
    await acme.client.post("/api/1/customer", json={"name": "Wendy"})
    await until(lambda: len(receiver.accepted()) == 1, dispatcher)
    other = standardwebhooks.Webhook("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    sent = receiver.accepted()[0]
    try:
        other.verify(sent.body, sent.headers)
    except standardwebhooks.WebhookVerificationError:
        pass
    else:
        raise AssertionError("verified with another secret")


async def test_channels_and_filters_are_honoured(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    await subscribe(acme, receiver, channels=["customer"], eventTypeFilter=r"\.(deleted|created)$")
    await subscribe(acme, receiver, channels=["user"])
    cid = (await acme.client.post("/api/1/customer", json={"name": "A"})).json()["id"]
    await acme.client.put(f"/api/1/customer/{cid}", json={"city": "Lund"})
    await _upload(acme)
    await acme.client.delete(f"/api/1/customer/{cid}")
    await until(lambda: len(receiver.accepted()) >= 2, dispatcher)
    await dispatcher.drain()
    assert receiver.types() == ["customer.created", "customer.deleted"]


async def test_another_groups_changes_never_arrive(
    acme: Tenant, globex: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    await subscribe(acme, receiver)
    await globex.client.post("/api/1/customer", json={"name": "Globex's"})
    await acme.client.post("/api/1/customer", json={"name": "Acme's"})
    await until(lambda: len(receiver.accepted()) >= 1, dispatcher)
    await dispatcher.drain()
    assert [r.payload["data"]["name"] for r in receiver.accepted()] == ["Acme's"]
    assert {r.payload["groupId"] for r in receiver.accepted()} == {acme.group_id}


async def test_a_rolled_back_change_writes_no_event(acme: Tenant, receiver: Receiver, app) -> None:
    await subscribe(acme, receiver)
    await acme.client.post("/api/1/customer", json={"name": "A", "customerNumber": "7"})
    taken = await acme.client.post("/api/1/customer", json={"name": "B", "customerNumber": "7"})
    assert taken.status_code == 409
    async with app.state.database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookEvent)) == 1


async def test_no_subscription_no_event(acme: Tenant, app) -> None:
    await acme.client.post("/api/1/customer", json={"name": "A"})
    async with app.state.database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


async def test_a_receiver_that_fails_then_recovers_gets_every_event_in_order(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    await subscribe(acme, receiver)
    receiver.answers = [500, 503, 500, 502]
    cid = (await acme.client.post("/api/1/customer", json={"name": "v0"})).json()["id"]
    for version in range(1, 6):
        await acme.client.put(f"/api/1/customer/{cid}", json={"name": f"v{version}"})
    await until(lambda: len(receiver.accepted()) >= 6, dispatcher)
    await dispatcher.drain()
    names = [r.payload["data"]["name"] for r in receiver.accepted()]
    assert names == [f"v{n}" for n in range(6)]
    assert len(receiver.received) == 10


async def test_the_in_process_dispatcher_delivers_without_being_asked(
    acme: Tenant, receiver: Receiver, app
) -> None:
    """``serve``'s own dispatcher, woken by the commit."""
    from customer_api.webhooks.running import running_dispatcher

    settings = app.state.settings
    await subscribe(acme, receiver)
    async with running_dispatcher(settings, in_process=True):
        await acme.client.post("/api/1/customer", json={"name": "Now"})
        await until(lambda: len(receiver.accepted()) == 1, None, seconds=5)
