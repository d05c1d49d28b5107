"""The search engine of the Elasticsearch tests: a real Elasticsearch when
CUSTOMER_API_TEST_ELASTICSEARCH_URL names one, else osmem-server (a real BM25 engine speaking
the same REST API) behind its media-type shim, started once per test session (see engine.py)."""

import os
from collections.abc import Iterator

import pytest

from tests.search.engine import running_engine

ELASTICSEARCH_URL = os.environ.get("CUSTOMER_API_TEST_ELASTICSEARCH_URL", "").strip()


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    """The URL of a real engine, started on first use."""
    if ELASTICSEARCH_URL:
        yield ELASTICSEARCH_URL
        return
    with running_engine() as url:
        yield url
