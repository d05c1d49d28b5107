"""Document tests run with a small upload limit and look into the test's vault directory."""

from pathlib import Path

import pytest

from tests.documents.helpers import UPLOAD_LIMIT


@pytest.fixture
def settings(settings):
    """A small upload limit, so that oversize uploads are quick to send."""
    return settings.model_copy(update={"max_upload_bytes": UPLOAD_LIMIT})


@pytest.fixture
def vault_dir(settings) -> Path:
    return settings.vault_dir
