"""Property-based contract testing: schemathesis generates requests for every operation in the
app's own OpenAPI document (valid and invalid ones), sends them in-process over ASGI with a real
key, and runs all its default checks on the answers (no server errors, statuses, content types,
headers and bodies as documented, invalid data refused, valid data accepted).

Fixed seed and a bounded number of examples per operation, so a run is repeatable and quick.
"""

import asyncio
import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from customer_api.app import create_app
from customer_api.config import Settings
from customer_api.core.db import Database
from tests.helpers import create_group_key, empty_all_tables
from tests.operations.business_rules import broken_rule

# Enough to find what it found so far within CI's time; raise it for a deeper run by hand.
EXAMPLES_PER_OPERATION = int(os.environ.get("CUSTOMER_API_CONTRACT_EXAMPLES", "50"))


async def _with_database(settings_: Settings, work):
    database = Database(settings_.async_database_url)
    try:
        return await work(database)
    finally:
        await database.dispose()


@pytest.fixture
def contract_key(settings: Settings) -> Iterator[str]:
    """A real key of a real group; every table is emptied afterwards."""
    _, key = asyncio.run(_with_database(settings, lambda db: create_group_key(db, "Contract")))
    yield key
    asyncio.run(_with_database(settings, empty_all_tables))


@pytest.fixture
def contract_app(settings: Settings):
    """The app on the test's database; schemathesis runs its lifespan."""
    return create_app(settings)


# The document comes from an app that never runs (no lifespan, no database); every request goes
# in-process to ``contract_app``, on the test's database (SQLite, and Postgres when configured).
_document_app = create_app(
    Settings(database_url="sqlite:///:memory:", elasticsearch_url=None, _env_file=None)
)
schema = schemathesis.openapi.from_dict(_document_app.openapi())
schema.app = _document_app


# A conditional or idempotent request can be refused by the state it meets rather than by its
# form: 412 when its If-Match names another version, 409 or 422 when its Idempotency-Key was
# used before (generated keys repeat across examples).
STATEFUL_REFUSALS = {412: "if-match", 409: "idempotency-key", 422: "idempotency-key"}


def _refused_by_state(response, case) -> bool:
    header = STATEFUL_REFUSALS.get(response.status_code)
    return header is not None and header in {name.lower() for name in case.headers or {}}


# What a webhook's schema cannot say: whether a URL's host is a private address, and whether a
# regular expression compiles and runs quickly. Refused with 406 naming the field.
BEYOND_SCHEMA = ("url: ", "eventTypeFilter: ")


def _refused_beyond_schema(response, case) -> bool:
    if response.status_code != 406 or not case.path.startswith("/api/1/webhook"):
        return False
    try:
        return response.json().get("message", "").startswith(BEYOND_SCHEMA)
    except ValueError:
        return False


@schemathesis.check
def well_formed_requests_accepted(ctx, response, case) -> bool | None:
    """Valid data accepted, unless a business rule (business_rules.py) or the state refused it."""
    if broken_rule(response) or _refused_by_state(response, case):
        return None
    if _refused_beyond_schema(response, case):
        return None
    return positive_data_acceptance(ctx, response, case)


def _sent_as_absent(case) -> bool:
    """Whether a generated query value is an empty object or array: sent as nothing at all, it
    leaves a request the document allows (absent and empty parameters count as not given),
    though schemathesis counts it as a violation."""
    return any(value in ({}, []) for value in (case.query or {}).values())


@schemathesis.check
def malformed_requests_refused(ctx, response, case) -> bool | None:
    # A replayed answer is an earlier request's (same key, same bytes sent).
    if _sent_as_absent(case) or response.headers.get("idempotent-replayed"):
        return None
    return negative_data_rejection(ctx, response, case)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_its_contract(case, contract_app, contract_key: str) -> None:
    case.call_and_validate(
        headers={"API-Key": contract_key},
        app=contract_app,
        excluded_checks=[positive_data_acceptance, negative_data_rejection],
        additional_checks=[well_formed_requests_accepted, malformed_requests_refused],
    )
