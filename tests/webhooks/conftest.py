"""The webhook tests: deliveries only to loopback receivers, and a dispatcher the tests drive
themselves."""

from collections.abc import Iterator

import pytest

from customer_api.config import Settings
from customer_api.webhooks.dispatcher import Dispatcher
from tests.webhooks.helpers import LOOPBACK, policy
from tests.webhooks.receiver import Receiver, start_receiver, stop_receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The tests drive the dispatcher themselves (``dispatch``), except where they say so."""
    return settings.model_copy(
        update={"webhook_allowed_networks": LOOPBACK, "webhook_dispatcher_in_process": False}
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = start_receiver()
    yield started
    stop_receiver(started)


@pytest.fixture
async def dispatcher(app) -> Iterator[Dispatcher]:
    made = Dispatcher(app.state.database, policy())
    yield made
    await made.aclose()
