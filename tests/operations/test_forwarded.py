"""``serve`` believes X-Forwarded-For only from the peers CUSTOMER_API_FORWARDED_ALLOW_IPS names:
anyone else who sends one is logged at the address it really came from."""

from collections.abc import Iterator
from ipaddress import ip_address, ip_network
from pathlib import Path

import httpx
import pytest

from customer_api.config import Settings
from tests.live_server import LiveServer, live_server

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
# 127.0.0.2 is in the trusted network and 127.0.0.1 is not, unlike uvicorn's default (both
# addresses are this machine on Linux).
TRUSTED_NETWORK = "127.0.0.2/31"
SPOOFED = "203.0.113.77"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = {"FORWARDED_ALLOW_IPS": TRUSTED_NETWORK}
    with live_server(tmp_path_factory.mktemp("forwarded"), settings=settings) as running:
        yield running


def client_logged(server: LiveServer, source: str, request_id: str) -> str:
    """The ``client`` of the access line of a request sent from ``source`` with a forged
    X-Forwarded-For."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, base_url=server.base_url) as client:
        try:
            response = client.get(
                "/health", headers={"X-Forwarded-For": SPOOFED, "X-Request-ID": request_id}
            )
        except httpx.ConnectError as exc:
            pytest.skip(f"cannot send from {source}: {exc}")
    assert response.status_code == 200
    lines = server.wait_for_log(lambda line: line.get("request_id") == request_id)
    [access] = [line for line in lines if line.get("request_id") == request_id]
    return access["client"]


def test_a_forwarded_address_from_an_untrusted_peer_is_not_believed(server) -> None:
    assert client_logged(server, "127.0.0.1", "forwarded-untrusted") == "127.0.0.1"


def test_a_forwarded_address_from_the_configured_proxy_is_the_client(server) -> None:
    assert client_logged(server, "127.0.0.2", "forwarded-trusted") == SPOOFED


def test_by_default_only_this_machine_is_believed() -> None:
    assert Settings(_env_file=None).forwarded_allow_ips == "127.0.0.1,::1"


@pytest.mark.parametrize("value", ["proxy", "10.0.0.1/24", "10.0.0.1,*", ""])
def test_a_setting_uvicorn_would_silently_ignore_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="IP addresses or networks"):
        Settings(forwarded_allow_ips=value, _env_file=None)


def test_the_compose_stack_believes_its_proxy_alone() -> None:
    yaml = pytest.importorskip("yaml")
    stack = yaml.safe_load(COMPOSE.read_text())
    services = stack["services"]
    [(network, attachment)] = services["proxy"]["networks"].items()
    address = attachment["ipv4_address"]
    [subnet] = [pool["subnet"] for pool in stack["networks"][network]["ipam"]["config"]]
    assert ip_address(address) in ip_network(subnet)
    environment = services["app"]["environment"]
    assert environment["CUSTOMER_API_FORWARDED_ALLOW_IPS"] == address
    assert "FORWARDED_ALLOW_IPS" not in environment
    assert network in services["app"]["networks"]
    others = [name for name in services if name not in ("app", "proxy")]
    assert not [name for name in others if network in services[name].get("networks", [])]
