from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from customer_api.config import Settings
from customer_api.webhooks.dispatcher import Dispatcher, Policy
from customer_api.webhooks.outbound import parse_networks
from tests.webhooks.receiver import Receiver, start_receiver, stop_receiver

LOOPBACK = "127.0.0.0/8"
FAST_RETRIES = (0.05, 0.05, 0.1, 0.1, 0.2)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The tests drive the dispatcher themselves (``dispatch``), except where they say so."""
    return Settings(
        database_url=database_url,
        vault_dir=tmp_path / "vault",
        elasticsearch_url=None,
        webhook_allowed_networks=LOOPBACK,
        webhook_dispatcher_in_process=False,
        _env_file=None,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = start_receiver()
    yield started
    stop_receiver(started)


def policy(**changes) -> Policy:
    values = {
        "retry_delays": FAST_RETRIES,
        "allowed": parse_networks(LOOPBACK),
        "lease": timedelta(seconds=5),
        "disable_after_failures": 100,
        "disable_after": timedelta(0),
        **changes,
    }
    return Policy(**values)


@pytest.fixture
async def dispatcher(app) -> Iterator[Dispatcher]:
    made = Dispatcher(app.state.database, policy())
    yield made
    await made.aclose()
