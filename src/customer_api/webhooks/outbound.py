"""Outbound requests that cannot be turned against the server's own network.

The host is resolved here and every address it resolves to is checked (loopback, private,
link-local, metadata, multicast, reserved: anything not globally routable) unless an operator
allowed its network; the request then goes to the checked address itself (the name kept for
the Host header and TLS), so a second resolution cannot swap in another address. Redirects
are not followed, and a response's body is read only up to a small cap.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
MAX_RESPONSE_BYTES = 4096


class Blocked(Exception):
    """The URL resolves to an address deliveries may not reach."""


@dataclass(frozen=True)
class Answer:
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def parse_networks(text: str) -> Networks:
    """``CUSTOMER_API_WEBHOOK_ALLOWED_NETWORKS``: comma-separated CIDRs (or addresses)."""
    return tuple(
        ipaddress.ip_network(item.strip(), strict=False) for item in text.split(",") if item.strip()
    )


def forbidden_address(address: Address, allowed: Networks) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == net.version and address in net for net in allowed):
        return False
    return not address.is_global or address.is_multicast


async def resolve(host: str, port: int, allowed: Networks) -> str:
    """The address to connect to; Blocked when any address the name has is forbidden."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses:
        raise OSError(f"cannot resolve {host}")
    for address in addresses:
        if forbidden_address(address, allowed):
            raise Blocked(f"{host} resolves to {address}, a non-public address")
    return str(addresses[0])


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
        follow_redirects=False,
        trust_env=False,  # no proxy from the environment: the checked address is the one used
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


async def post(
    http: httpx.AsyncClient, url: str, *, headers: dict[str, str], body: bytes, allowed: Networks
) -> Answer:
    """POST ``body``; the status, or why there was none. Never raises for the receiver's
    sake."""
    try:
        target = httpx.URL(url)
        address = await resolve(target.host, target.port or _default_port(target), allowed)
        pinned = target.copy_with(host=address)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = http.build_request(
            "POST",
            pinned,
            content=body,
            headers={**headers, "Host": target.netloc.decode("ascii")},
            extensions=extensions,
        )
        response = await http.send(request, stream=True)
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= MAX_RESPONSE_BYTES:
                    break
        finally:
            await response.aclose()
        return Answer(response.status_code)
    except Blocked as exc:
        return Answer(None, f"blocked: {exc}")
    except httpx.TimeoutException as exc:
        return Answer(None, f"timeout: {type(exc).__name__}")
    except (httpx.HTTPError, OSError, ValueError) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500])


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80
