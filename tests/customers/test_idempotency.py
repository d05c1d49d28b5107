"""Idempotency-Key on POST and PUT, through the real app and database: a retry gets the first
answer without the work being done again; keys are per group and outlive the app instance."""

import asyncio
from datetime import timedelta

from sqlalchemy import update

from customer_api.app import create_app
from customer_api.core.timestamps import utcnow
from customer_api.idempotency.models import IdempotentRequest
from tests.helpers import api_client

CUSTOMERS = "/api/1/customer"
WENDY = {"name": "Wendy Warner", "customerNumber": "C-IDEM"}


async def customer_count(client) -> int:
    response = await client.get(CUSTOMERS, params={"inactive": "true"})
    return 0 if response.status_code == 204 else len(response.json())


async def test_a_retry_gets_the_first_answer_and_nothing_is_done_twice(client) -> None:
    headers = {"Idempotency-Key": "order-1"}
    first = await client.post(CUSTOMERS, json=WENDY, headers=headers)
    again = await client.post(CUSTOMERS, json=WENDY, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await customer_count(client) == 1


async def test_the_same_key_with_another_body_is_refused(client) -> None:
    headers = {"Idempotency-Key": "order-2"}
    assert (await client.post(CUSTOMERS, json=WENDY, headers=headers)).status_code == 200
    other = await client.post(CUSTOMERS, json={**WENDY, "name": "Other"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["success"] is False
    assert other.json()["error"] == "idempotency_key_reused"
    elsewhere = await client.put(f"{CUSTOMERS}/1", json=WENDY, headers=headers)
    assert elsewhere.status_code == 422
    assert await customer_count(client) == 1


async def test_keys_are_per_group(client, globex) -> None:
    headers = {"Idempotency-Key": "shared-name"}
    mine = await client.post(CUSTOMERS, json=WENDY, headers=headers)
    theirs = await globex.client.post(CUSTOMERS, json=WENDY, headers=headers)
    assert mine.status_code == theirs.status_code == 200
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]


async def test_concurrent_requests_with_one_key_make_one_customer(client) -> None:
    headers = {"Idempotency-Key": "burst"}
    answers = await asyncio.gather(
        *(client.post(CUSTOMERS, json=WENDY, headers=headers) for _ in range(6))
    )
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 409}
    assert statuses.count(200) >= 1
    assert len({a.json()["id"] for a in answers if a.status_code == 200}) == 1
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["error"] == "idempotency_key_in_use"
    assert await customer_count(client) == 1


async def test_a_failed_request_frees_its_key(client) -> None:
    headers = {"Idempotency-Key": "fix-and-retry"}
    refused = await client.post(CUSTOMERS, json={"name": 5}, headers=headers)
    assert refused.status_code == 406
    fixed = await client.post(CUSTOMERS, json=WENDY, headers=headers)
    assert fixed.status_code == 200
    assert "idempotent-replayed" not in fixed.headers


async def test_kept_answers_outlive_the_app_instance(client, settings) -> None:
    headers = {"Idempotency-Key": "across-restarts"}
    first = await client.post(CUSTOMERS, json=WENDY, headers=headers)
    other_instance = create_app(settings)
    async with (
        other_instance.router.lifespan_context(other_instance),
        api_client(other_instance, dict(client.headers)) as other_client,
    ):
        again = await other_client.post(CUSTOMERS, json=WENDY, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


async def test_the_put_upsert_and_the_other_family_take_keys_too(client) -> None:
    uuid_path = f"{CUSTOMERS}/0847ed17-b060-4599-a38c-be9a8b9cbb34"
    headers = {"Idempotency-Key": "upsert-1"}
    created = await client.put(uuid_path, json=WENDY, headers=headers)
    replayed = await client.put(uuid_path, json=WENDY, headers=headers)
    assert replayed.content == created.content
    assert replayed.headers["idempotent-replayed"] == "true"

    user = {"reference": "U-IDEM", "firstName": "Ann"}
    headers = {"Idempotency-Key": "user-1"}
    made = await client.post("/api/v1.0/users", json=user, headers=headers)
    again = await client.post("/api/v1.0/users", json=user, headers=headers)
    assert made.status_code == again.status_code == 201
    assert again.content == made.content
    reused = await client.post(
        "/api/v1.0/users", json={**user, "reference": "U-2"}, headers=headers
    )
    assert reused.status_code == 422
    assert set(reused.json()) == {"error", "error_description"}


async def test_a_malformed_key_is_refused_in_the_family_shape(client) -> None:
    answer = await client.post(CUSTOMERS, json=WENDY, headers={"Idempotency-Key": "x" * 256})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_idempotency_key"
    assert await customer_count(client) == 0


async def test_a_key_needs_a_valid_api_key_first(anonymous) -> None:
    answer = await anonymous.post(CUSTOMERS, json=WENDY, headers={"Idempotency-Key": "k"})
    assert answer.status_code == 401


async def age_every_key(app, by: timedelta, *, running: bool = False) -> None:
    """Make the kept keys look older (and, with ``running``, still unanswered)."""
    values = {"created": utcnow() - by, **({"status": None} if running else {})}
    async with app.state.database.transaction() as session:
        await session.execute(update(IdempotentRequest).values(**values))


async def test_a_key_past_its_retention_is_a_new_request(app, client) -> None:
    headers = {"Idempotency-Key": "old"}
    assert (await client.post(CUSTOMERS, json=WENDY, headers=headers)).status_code == 200
    await age_every_key(app, timedelta(hours=25))
    other = {**WENDY, "customerNumber": "C-LATER"}
    again = await client.post(CUSTOMERS, json=other, headers=headers)
    assert again.status_code == 200
    assert "idempotent-replayed" not in again.headers
    assert await customer_count(client) == 2


async def test_a_claim_left_by_a_dead_server_is_taken_over(app, client) -> None:
    headers = {"Idempotency-Key": "orphan"}
    assert (await client.post(CUSTOMERS, json=WENDY, headers=headers)).status_code == 200
    await age_every_key(app, timedelta(minutes=1), running=True)
    busy = await client.post(CUSTOMERS, json=WENDY, headers=headers)
    assert busy.status_code == 409  # as far as anyone can tell, it still runs
    await age_every_key(app, timedelta(minutes=11), running=True)
    other = {**WENDY, "customerNumber": "C-RETRIED"}
    assert (await client.post(CUSTOMERS, json=other, headers=headers)).status_code == 200
