"""Budgets per key and per group: the RateLimit fields on every keyed answer, 429 with
Retry-After in each family's shape, keys of a group sharing the group's budget, unknown keys
spending nothing, an unreachable Redis letting requests through, and two server processes
sharing one budget through a real Redis."""

import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import coredis
import httpx
import pytest

from customer_api.app import create_app
from customer_api.auth import rate_limits
from customer_api.config import Settings
from customer_api.core import metrics
from tests.helpers import api_client, empty_all_tables, make_key
from tests.live_server import free_port, live_server

REDIS_URL = os.environ.get("CUSTOMER_API_TEST_REDIS_URL", "").strip()
POLICY = '"key";q=3;w=60, "group";q=5;w=60'
FIELDS = re.compile(r'^"key";r=(\d+);t=(\d+), "group";r=(\d+);t=(\d+)$')


@pytest.fixture
async def limited(settings: Settings) -> AsyncIterator:
    """An app with budgets of 3 requests a minute per key and 5 per group."""
    application = create_app(
        settings.model_copy(
            update={"rate_limit_per_key": "3/minute", "rate_limit_per_group": "5/minute"}
        )
    )
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await empty_all_tables(application.state.database)


def remaining(response: httpx.Response) -> tuple[int, int]:
    """(the key's, the group's) remaining requests, from the RateLimit field."""
    assert response.headers["ratelimit-policy"] == POLICY
    match = FIELDS.match(response.headers["ratelimit"])
    assert match, response.headers["ratelimit"]
    for seconds in (match[2], match[4]):
        assert 0 <= int(seconds) <= 60
    return int(match[1]), int(match[3])


async def test_every_keyed_answer_carries_the_fields(limited) -> None:
    _, key = await make_key(limited, "Acme")
    async with api_client(limited, {"API-Key": key}) as client:
        listed = await client.get("/api/1/customer")
        assert listed.status_code == 204
        assert remaining(listed) == (2, 4)
        missing = await client.get("/api/1/customer/999")
        assert missing.status_code == 404
        assert remaining(missing) == (1, 3)


async def test_a_spent_key_is_answered_429_in_the_customer_family_shape(limited) -> None:
    _, key = await make_key(limited, "Acme")
    async with api_client(limited, {"API-Key": key}) as client:
        for _ in range(3):
            assert (await client.get("/api/1/customer")).status_code == 204
        refused = await client.get("/api/1/customer")
    assert refused.status_code == 429
    body = refused.json()
    assert body["success"] is False and body["error"] == "too_many_requests"
    assert "3 requests per 60 seconds" in body["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert remaining(refused) == (0, 2)  # refused by the key's budget: the group's is untouched


async def test_a_spent_key_is_answered_429_in_the_assignments_family_shape(limited) -> None:
    _, key = await make_key(limited, "Acme")
    async with api_client(limited, {"API-Key": key}) as client:
        for _ in range(3):
            assert (await client.get("/api/v1.0/customerEmployees")).status_code == 200
        refused = await client.get("/api/v1.0/customerEmployees")
    assert refused.status_code == 429
    assert set(refused.json()) == {"error", "error_description"}
    assert refused.json()["error"] == "too_many_requests"
    assert int(refused.headers["retry-after"]) >= 1


async def test_a_body_is_refused_before_it_is_read(limited) -> None:
    """A write past the budget is answered by the body guard: 429, and the connection closed."""
    _, key = await make_key(limited, "Acme")
    async with api_client(limited, {"API-Key": key}) as client:
        for number in range(3):
            created = await client.post("/api/1/customer", json={"name": f"Wendy {number}"})
            assert created.status_code == 200
        refused = await client.post("/api/1/customer", json={"name": "One too many"})
        assert refused.status_code == 429
        assert refused.json()["error"] == "too_many_requests"
        assert refused.headers["connection"] == "close"
        assert "retry-after" in refused.headers
    _, other_key = await make_key(limited, "Acme")
    async with api_client(limited, {"API-Key": other_key}) as other:
        names = [customer["name"] for customer in (await other.get("/api/1/customer")).json()]
    assert "One too many" not in names and len(names) == 3


async def test_keys_of_a_group_have_their_own_budgets_and_share_the_groups(limited) -> None:
    _, first = await make_key(limited, "Acme")
    _, second = await make_key(limited, "Acme")
    _, elsewhere = await make_key(limited, "Globex")
    async with (
        api_client(limited, {"API-Key": first}) as one,
        api_client(limited, {"API-Key": second}) as two,
        api_client(limited, {"API-Key": elsewhere}) as other,
    ):
        for _ in range(3):
            assert (await one.get("/api/1/customer")).status_code == 204
        assert (await one.get("/api/1/customer")).status_code == 429
        # The second key has its own budget of 3, but only 2 are left in the group's 5.
        answers = [await two.get("/api/1/customer") for _ in range(3)]
        assert [answer.status_code for answer in answers] == [204, 204, 429]
        assert remaining(answers[1]) == (1, 0)
        assert "group" in answers[2].json()["message"]
        # Another group's budget is its own.
        assert (await other.get("/api/1/customer")).status_code == 204


async def test_unknown_keys_spend_nobodys_budget(limited) -> None:
    _, key = await make_key(limited, "Acme")
    async with (
        api_client(limited, {"API-Key": "cak_" + "x" * 43}) as stranger,
        api_client(limited) as anonymous,
        api_client(limited, {"API-Key": key}) as client,
    ):
        for _ in range(10):
            refused = await stranger.get("/api/1/customer")
            assert refused.status_code == 401
            assert "ratelimit" not in refused.headers
            assert (await anonymous.get("/api/1/customer")).status_code == 401
        assert remaining(await client.get("/api/1/customer")) == (2, 4)


async def test_probes_are_not_counted(limited) -> None:
    async with api_client(limited) as client:
        answer = await client.get("/health")
    assert answer.status_code == 200
    assert "ratelimit" not in answer.headers


async def test_no_budget_no_fields(settings: Settings) -> None:
    application = create_app(
        settings.model_copy(update={"rate_limit_per_key": "", "rate_limit_per_group": ""})
    )
    async with application.router.lifespan_context(application):
        try:
            assert application.state.rate_limiter is None
            _, key = await make_key(application, "Acme")
            async with api_client(application, {"API-Key": key}) as client:
                answer = await client.get("/api/1/customer")
            assert answer.status_code == 204
            assert "ratelimit" not in answer.headers
        finally:
            await empty_all_tables(application.state.database)


def test_a_rate_that_cannot_be_read_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="600/minute"):
        Settings(rate_limit_per_key="six hundred", _env_file=None)
    assert Settings(rate_limit_per_group="0", _env_file=None).rate_limit_per_group == ""


async def test_an_unreachable_redis_lets_requests_through(settings: Settings) -> None:
    """Nothing listens on the port: requests are answered, uncounted, and the failure counted."""
    application = create_app(
        settings.model_copy(
            update={
                "rate_limit_per_key": "1/minute",
                "redis_url": f"redis://127.0.0.1:{free_port()}/0",
            }
        )
    )
    before = metrics.RATE_LIMIT_STORAGE_ERRORS._value.get()
    async with application.router.lifespan_context(application):
        try:
            _, key = await make_key(application, "Acme")
            async with api_client(application, {"API-Key": key}) as client:
                answers = [await client.get("/api/1/customer") for _ in range(3)]
            assert [answer.status_code for answer in answers] == [204, 204, 204]
            assert all("ratelimit" not in answer.headers for answer in answers)
        finally:
            await empty_all_tables(application.state.database)
    # One failure, then Redis is left alone for a while rather than tried by every request.
    assert metrics.RATE_LIMIT_STORAGE_ERRORS._value.get() == before + 1


@pytest.mark.skipif(not REDIS_URL, reason="CUSTOMER_API_TEST_REDIS_URL is not set")
def test_two_server_processes_share_a_budget_through_redis(tmp_path: Path) -> None:
    shared = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "VAULT_DIR": str(tmp_path / "vault"),
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex}",  # runs side by side never meet
        "RATE_LIMIT_PER_KEY": "5/minute",
        "RATE_LIMIT_PER_GROUP": "0",
    }
    with live_server(tmp_path / "one", settings=shared) as one:
        key = one.first_key
        with live_server(tmp_path / "two", settings=shared) as two:
            answers = [
                httpx.get(f"{server.base_url}/api/1/customer", headers={"API-Key": key})
                for server in (one, two, one, two, one, two, one)
            ]
    statuses = [answer.status_code for answer in answers]
    assert statuses == [204] * 5 + [429, 429], statuses
    counts = [answer.headers["ratelimit"] for answer in answers]
    assert [int(re.match(r'"key";r=(\d+)', count)[1]) for count in counts] == [4, 3, 2, 1, 0, 0, 0]
    assert answers[5].json()["error"] == "too_many_requests"
    assert int(answers[5].headers["retry-after"]) >= 1


def test_the_document_gives_every_keyed_operation_its_429() -> None:
    document = create_app(
        Settings(database_url="sqlite:///:memory:", elasticsearch_url=None, _env_file=None)
    ).openapi()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if not path.startswith(("/api/", "/vault/")):
                assert "429" not in operation["responses"], path
                continue
            answer = operation["responses"]["429"]
            assert set(answer["headers"]) == {"Retry-After", "RateLimit-Policy", "RateLimit"}
            schema = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            family = "ErrorBody" if path.startswith("/api/v1.0/") else "CustomerApiErrorBody"
            assert schema == family, path


@pytest.mark.skipif(not REDIS_URL, reason="CUSTOMER_API_TEST_REDIS_URL is not set")
async def test_with_redis_a_busy_budget_is_sent_in_batches_until_half_is_used(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to half of a budget, requests are counted here and sent later; past half, every
    request goes to Redis, so the shared count decides every refusal."""
    monkeypatch.setattr(rate_limits, "SHARE_SECONDS", 60)  # no batch sent for time's sake
    prefix = f"test-{uuid.uuid4().hex}"
    application = create_app(
        settings.model_copy(
            update={
                "rate_limit_per_key": "100/minute",
                "rate_limit_per_group": "",
                "redis_url": REDIS_URL,
                "redis_key_prefix": prefix,
            }
        )
    )
    redis = coredis.Redis.from_url(REDIS_URL, decode_responses=True)

    async def in_redis() -> int:
        keys = await redis.keys(f"{prefix}:*")
        assert len(keys) == 1, keys
        return int(await redis.get(keys.pop()))

    async with application.router.lifespan_context(application):
        try:
            _, key = await make_key(application, "Acme")
            async with api_client(application, {"API-Key": key}) as client:
                answers = [await client.get("/api/1/customer") for _ in range(50)]
                assert {answer.status_code for answer in answers} == {204}
                assert answers[-1].headers["ratelimit"].startswith('"key";r=50;')
                assert await in_redis() == 1  # the first request only
                answers = [await client.get("/api/1/customer") for _ in range(60)]
                assert await in_redis() == 110
                assert [answer.status_code for answer in answers] == [204] * 50 + [429] * 10
        finally:
            await empty_all_tables(application.state.database)
            await redis.delete(await redis.keys(f"{prefix}:*"))
