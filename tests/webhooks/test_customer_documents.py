"""Documents attached and detached through PUT /api/1/customer/{id} (its ``documents`` list),
and with a customer's deletion, arrive as the dedicated routes' events do."""

from customer_api.webhooks.dispatcher import Dispatcher
from tests.helpers import Tenant
from tests.webhooks.helpers import subscribe, until
from tests.webhooks.receiver import Receiver


async def _upload(tenant: Tenant, name: str) -> dict:
    files = {"file": (name, b"hello there", "text/plain")}
    answer = await tenant.client.post("/api/1/document/content", files=files)
    assert answer.status_code == 200, answer.text
    return answer.json()["document"]


class Events:
    def __init__(self, receiver: Receiver, dispatcher: Dispatcher, secret: str) -> None:
        self.receiver, self.dispatcher, self.secret = receiver, dispatcher, secret

    async def next(self, count: int) -> list[dict]:
        """The next ``count`` events (after those already taken), verified."""
        await until(lambda: len(self.receiver.accepted()) >= count, self.dispatcher)
        await self.dispatcher.drain()
        payloads = self.receiver.verified(self.secret)
        self.receiver.received.clear()
        return payloads


def _summary(payloads: list[dict], customer: dict) -> list[tuple[str, int]]:
    """(type, document id) of each; the link events name the customer."""
    for payload in payloads:
        if payload["type"] != "document.created":
            assert payload["data"]["customer"] == {"id": customer["id"], "uuid": customer["uuid"]}
    return sorted(
        (p["type"], p["data"]["document"]["id"] if "document" in p["data"] else p["data"]["id"])
        for p in payloads
    )


async def test_the_documents_list_attaches_and_detaches(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    client = acme.client
    customer = (await client.post("/api/1/customer", json={"name": "Docs"})).json()
    first, second = await _upload(acme, "a.txt"), await _upload(acme, "b.txt")
    hook = await subscribe(acme, receiver, channels=["document"])
    events = Events(receiver, dispatcher, hook["secret"])
    path = f"/api/1/customer/{customer['id']}"

    answer = await client.put(path, json={"documents": [{"uuid": first["uuid"]}]})
    assert answer.status_code == 200, answer.text
    assert _summary(await events.next(1), customer) == [("document.attached", first["id"])]

    link = {"contentUrl": "https://files.example.com/plan.pdf", "fileName": "plan.pdf"}
    answer = await client.put(path, json={"documents": [{"id": second["id"]}, link]})
    assert answer.status_code == 200, answer.text
    made = answer.json()["documents"][1]
    payloads = await events.next(4)
    assert _summary(payloads, customer) == sorted(
        [
            ("document.created", made["id"]),
            ("document.attached", made["id"]),
            ("document.attached", second["id"]),
            ("document.detached", first["id"]),
        ]
    )
    shown = {p["type"]: p["data"] for p in payloads if p["data"].get("id") == made["id"]}
    assert shown["document.created"] == made

    reordered = [{"id": made["id"]}, {"id": second["id"]}]
    assert (await client.put(path, json={"documents": reordered})).status_code == 200
    assert (await client.put(path, json={"name": "Docs 2"})).status_code == 200
    assert (await client.delete(path)).status_code == 200
    assert _summary(await events.next(2), customer) == sorted(
        [("document.detached", made["id"]), ("document.detached", second["id"])]
    )
    assert receiver.accepted() == []


async def test_an_upsert_with_documents_attaches_them(
    acme: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    document = await _upload(acme, "a.txt")
    hook = await subscribe(acme, receiver)
    uuid = "0b7c1a52-3f0e-4d47-9a51-0c1f4a1c2b33"
    body = {"name": "New", "documents": [{"uuid": document["uuid"]}]}
    answer = await acme.client.put(f"/api/1/customer/{uuid}", json=body)
    assert answer.status_code == 200, answer.text
    payloads = await Events(receiver, dispatcher, hook["secret"]).next(2)
    assert sorted(p["type"] for p in payloads) == ["customer.created", "document.attached"]
    assert _summary([p for p in payloads if p["type"] != "customer.created"], answer.json()) == [
        ("document.attached", document["id"])
    ]
