"""Every request reaches one operation, whatever order the app adds its routers in: no path of
one operation is also a path of another with the same method (a word such as ``search`` or
``reference`` is never taken for an id)."""

import re
from pathlib import Path

import pytest
from starlette.routing import Match

from customer_api.app import create_app
from customer_api.config import Settings

# Values a client may put where a template has a parameter: ids, a UUID, and the words that
# other paths use as fixed segments.
SAMPLES = (
    "12",
    "0847ed17-b060-4599-a38c-be9a8b9cbb34",
    "search",
    "deleted",
    "content",
    "reference",
)
_PARAMETER = re.compile(r"\{[^}]+\}")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    folder: Path = tmp_path_factory.mktemp("routing")
    return create_app(
        Settings(database_url=f"sqlite:///{folder}/app.db", vault_dir=str(folder / "vault"))
    )


def _operations(app) -> list[tuple[str, str]]:
    paths = app.openapi()["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item]


def _reached(app, method: str, path: str) -> list[str]:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    return [
        route.path_format
        for route in app.router.routes
        if getattr(route, "methods", None) and route.matches(scope)[0] == Match.FULL
    ]


def test_every_request_reaches_one_operation(app) -> None:
    ambiguous = []
    for method, template in _operations(app):
        for sample in SAMPLES:
            path = _PARAMETER.sub(sample, template)
            reached = _reached(app, method, path)
            if len(reached) > 1:
                ambiguous.append((method, path, reached))
    assert ambiguous == []


def test_each_operation_is_reached_by_its_own_paths(app) -> None:
    for method, template in _operations(app):
        path = _PARAMETER.sub("12", template)
        assert _reached(app, method, path) == [template], (method, path)
