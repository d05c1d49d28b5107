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
from collections import OrderedDict
from dataclasses import dataclass

import httpx

Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
MAX_RESPONSE_BYTES = 4096
PER_RECEIVER = 10
"""Requests (and open connections) to one receiver at once."""
RECEIVERS_KEPT = 256
"""Receivers whose connections are kept open (the most recently sent to)."""


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
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None  # a name: resolved below
    if literal is not None:  # nothing to resolve: no trip to the resolver's thread
        if forbidden_address(literal, allowed):
            raise Blocked(f"{host} is a non-public address")
        return host
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
    """A client for one receiver: its connections (to the addresses its name resolved to) are
    kept open between deliveries."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
        follow_redirects=False,
        trust_env=False,  # no proxy from the environment: the checked address is the one used
        limits=httpx.Limits(max_connections=PER_RECEIVER, max_keepalive_connections=PER_RECEIVER),
    )


class Clients:
    """One client per receiver (scheme, host name, port), and at most ``PER_RECEIVER``
    requests to it at once: a connection opened for one receiver (its TLS session made for
    that name) is never reused for another that shares its address, a slow receiver holds
    only its own connections, and no request waits in a client's pool (whose bookkeeping
    grows with its queue)."""

    def __init__(self, keep: int = RECEIVERS_KEPT) -> None:
        self.keep = keep
        self._receivers: OrderedDict[str, tuple[httpx.AsyncClient, asyncio.Semaphore]] = (
            OrderedDict()
        )

    def of(self, url: httpx.URL) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        key = f"{url.scheme}://{url.host}:{url.port or _default_port(url)}"
        found = self._receivers.get(key)
        if found is None:
            found = self._receivers[key] = (client(), asyncio.Semaphore(PER_RECEIVER))
        self._receivers.move_to_end(key)
        return found

    async def trim(self) -> None:
        """Close the clients of the receivers least recently sent to, beyond ``keep`` (call
        with no request in flight)."""
        while len(self._receivers) > self.keep:
            _, (oldest, _) = self._receivers.popitem(last=False)
            await oldest.aclose()

    async def aclose(self) -> None:
        self.keep = 0
        await self.trim()


async def post(
    clients: Clients, url: str, *, headers: dict[str, str], body: bytes, allowed: Networks
) -> Answer:
    """POST ``body``; the status, or why there was none. Never raises for the receiver's
    sake."""
    try:
        target = httpx.URL(url)
        http, turns = clients.of(target)
        async with turns:
            return await _post(http, target, headers=headers, body=body, allowed=allowed)
    except (httpx.HTTPError, ValueError) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500])


async def _post(
    http: httpx.AsyncClient,
    target: httpx.URL,
    *,
    headers: dict[str, str],
    body: bytes,
    allowed: Networks,
) -> Answer:
    """The address checked on every attempt, then the request to that address."""
    try:
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
