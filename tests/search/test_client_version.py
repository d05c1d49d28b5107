"""The Elasticsearch client is pinned no newer than the server the compose file runs: the
client speaks its own minor's API, which an older server may not know."""

import re
import tomllib
from pathlib import Path

import elasticsearch
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
SERVER_IMAGE = re.compile(r"elasticsearch/elasticsearch:(\d+)\.(\d+)\.\d+")


def _server_version() -> tuple[int, int]:
    found = SERVER_IMAGE.search((ROOT / "docker-compose.yml").read_text())
    assert found, "docker-compose.yml runs no Elasticsearch image with a version"
    return int(found.group(1)), int(found.group(2))


def _client_requirement() -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(line) for line in project["dependencies"]]
    return next(r for r in requirements if r.name == "elasticsearch")


def test_no_client_newer_than_the_server_is_allowed() -> None:
    major, minor = _server_version()
    allowed = _client_requirement().specifier
    assert Version(f"{major}.{minor}.0") in allowed or Version(f"{major}.{minor}.99") in allowed
    assert Version(f"{major}.{minor + 1}.0") not in allowed
    assert Version(f"{major + 1}.0.0") not in allowed


def test_the_installed_client_is_no_newer_than_the_server() -> None:
    client = Version(elasticsearch.__versionstr__)
    assert (client.major, client.minor) <= _server_version()
