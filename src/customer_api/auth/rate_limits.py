"""Request budgets per key and per group, counted by the ``limits`` library.

A request is counted once its key is known (an unknown key spends nobody's budget): first
against the key's budget, then, if that allows it, against its group's, which all the group's
keys share. The counts live in this process, or in Redis when ``CUSTOMER_API_REDIS_URL`` is set,
and are then shared by every worker, process and host that uses that Redis.

Every answer to a counted request carries the IETF ``RateLimit-Policy`` and ``RateLimit`` fields
(draft-ietf-httpapi-ratelimit-headers); a refused one is a 429 with ``Retry-After``.

When Redis cannot be reached, requests are let through uncounted (and without those fields): a
limiter must not take the API down with it. The failure is logged and counted, and Redis is
left alone for a few seconds, so an outage costs no request a wait for a connection.
"""

import logging
import math
import time
from dataclasses import dataclass

import limits
from coredis.retry import NoRetryPolicy
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError

from customer_api.auth.service import Principal
from customer_api.config import Settings
from customer_api.core import metrics
from customer_api.core.errors import ApiError
from customer_api.core.middleware import RESPONSE_HEADERS_STATE

logger = logging.getLogger("customer_api.rate_limits")

# How long Redis is left alone after a failure, and how often the failure is logged.
REDIS_PAUSE_SECONDS = 5.0
REDIS_TIMEOUT_SECONDS = 0.5
# Storage keys made once and kept (then forgotten all at once): more than the keys in use.
KEYS_REMEMBERED = 20_000
# With Redis, a busy budget's requests are sent in batches: each process counts on its own for
# up to this long between two round trips, while less than half of the budget is used...
SHARE_SECONDS = 0.1
# ... and budgets smaller than this are counted in Redis request by request.
SMALLEST_SHARED_BUDGET = 100


class TooManyRequests(ApiError):
    """429 in the family's shape, with ``Retry-After``."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(frozen=True)
class Budget:
    """One policy: its name in the RateLimit fields and its ``limits`` item."""

    name: str
    item: limits.RateLimitItem
    whose: str  # for the refusal's text

    @property
    def window(self) -> int:
        return self.item.get_expiry()

    @property
    def policy(self) -> str:
        return f'"{self.name}";q={self.item.amount};w={self.window}'


@dataclass(slots=True)
class _Share:
    """A process's view of a budget's counter in Redis."""

    known: int  # the count Redis last answered (every process's requests sent by then)
    pending: int  # requests counted here since then, not yet sent
    until: float  # monotonic time after which they are sent


class RequestLimiter:
    """The budgets of a process, as fixed windows over one ``limits`` storage.

    This is the library's fixed-window strategy (a counter per key and window, created with
    the window's expiry, atomic in Redis), called through its storage rather than through
    ``FixedWindowRateLimiter``: the count that ``incr`` returns already says how much is
    left, where the strategy would ask the storage twice more for it, and the window's end is
    asked only once per window. One storage call per budget and request: in Redis, one round
    trip instead of three.

    A round trip to Redis costs a Python client far more CPU time than the rest of the check
    (bench/README.md), so with Redis each process sends a budget's requests in batches
    (``SHARE_SECONDS``) while less than half of it is used and answers from the count Redis
    last gave plus its own since; past half (and for budgets under ``SMALLEST_SHARED_BUDGET``)
    every request goes to Redis, so refusals are decided by the shared count. Requests of other
    processes reach a count at most ``SHARE_SECONDS`` late: exact as long as a tenth of a
    second's traffic stays under half the budget.
    """

    def __init__(self, budgets: list[Budget], storage: Storage) -> None:
        self.budgets = budgets
        self._storage = storage
        self._paused_until = 0.0
        self._keys: dict[tuple[str, int], str] = {}
        self._resets: dict[str, float] = {}  # by storage key: when its window ends
        self._shares: dict[str, _Share] | None = {} if isinstance(storage, RedisStorage) else None
        self._policy_header = (
            b"ratelimit-policy",
            ", ".join(budget.policy for budget in budgets).encode(),
        )

    async def check(self, principal: Principal, state: dict) -> None:
        """Count the request; leave the RateLimit fields in ``state``; raise TooManyRequests
        when a budget is spent."""
        if self._paused_until and time.monotonic() < self._paused_until:
            return
        try:
            fields, refused = await self._count(principal)
        except (StorageError, OSError, TimeoutError) as exc:
            self._storage_failed(exc)
            return
        state[RESPONSE_HEADERS_STATE] = [
            self._policy_header,
            (b"ratelimit", ", ".join(fields).encode()),
        ]
        if refused is not None:
            budget, retry_after = refused
            raise TooManyRequests(
                f"{budget.whose} has used its {budget.item.amount} requests per "
                f"{budget.window} seconds; try again in {retry_after} seconds.",
                retry_after=retry_after,
            )

    async def _count(self, principal: Principal) -> tuple[list[str], tuple[Budget, int] | None]:
        fields: list[str] = []
        refused: tuple[Budget, int] | None = None
        for budget in self.budgets:
            identity = principal.key_id if budget.name == "key" else principal.group_id
            # A request the key's budget refused is not counted against the group's.
            used, reset = await self._spend(budget, identity, counted=refused is None)
            seconds = max(0, math.ceil(reset - time.time()))
            fields.append(f'"{budget.name}";r={max(0, budget.item.amount - used)};t={seconds}')
            if used > budget.item.amount and refused is None:
                refused = (budget, max(1, seconds))
        return fields, refused

    async def _spend(self, budget: Budget, identity: int, *, counted: bool) -> tuple[int, float]:
        """Requests used in the current window (this one included when ``counted``), and when
        the window ends."""
        key = self._key(budget, identity)
        storage = self._storage
        opened = False  # whether this request opened the window
        if not counted:
            used = await storage.get(key)
        elif self._shares is None:
            used = await storage.incr(key, budget.window)
            opened = used == 1
        else:
            used, opened = await self._shared_incr(budget, key)
        now = time.time()
        if opened:
            reset = self._resets[key] = now + budget.window
        elif (reset := self._resets.get(key, 0.0)) <= now:
            reset = self._resets[key] = await storage.get_expiry(key)
            if used > budget.item.amount and reset <= now:
                # A count that never expires (its expiry lost, say to a timeout between Redis'
                # INCRBY and EXPIRE) would refuse the key for good: start it again. (Redis
                # tells the time left in whole seconds: at worst a refused key is let in again
                # up to a second early.)
                await storage.clear(key)
        return used, reset

    async def _shared_incr(self, budget: Budget, key: str) -> tuple[int, bool]:
        """Count the request in Redis, or here until the next batch (see the class)."""
        share = self._shares.get(key)
        moment = time.monotonic()
        window_open = self._resets.get(key, 0.0) > time.time()
        if share is not None and window_open:
            used = share.known + share.pending + 1
            if (
                moment < share.until
                and budget.item.amount >= SMALLEST_SHARED_BUDGET
                and used * 2 <= budget.item.amount
            ):
                share.pending += 1
                return used, False
        # Requests counted here in a window that has ended are dropped with it.
        sent = 1 + (share.pending if share is not None and window_open else 0)
        if share is None:
            share = self._shares[key] = _Share(0, 0, 0.0)
        # Requests that come while this batch is on its way count here, for the next one.
        share.known, share.pending = (share.known if window_open else 0) + sent, 0
        share.until = moment + SHARE_SECONDS
        used = await self._storage.incr(key, budget.window, amount=sent)
        share.known = max(share.known, used)  # another batch may have come back first
        return used, used == sent

    def _key(self, budget: Budget, identity: int) -> str:
        """The storage key of a budget's counter, made once (the library's own naming)."""
        key = self._keys.get((budget.name, identity))
        if key is None:
            if len(self._keys) >= KEYS_REMEMBERED:
                self._keys.clear()
                self._resets.clear()
                if self._shares is not None:
                    self._shares.clear()
            key = budget.item.key_for(budget.name, str(identity))
            self._keys[(budget.name, identity)] = key
        return key

    def _storage_failed(self, exc: BaseException) -> None:
        metrics.RATE_LIMIT_STORAGE_ERRORS.inc()
        logger.warning(
            "rate limits not counted for %.0f s: Redis failed: %s: %s",
            REDIS_PAUSE_SECONDS,
            type(exc).__name__,
            exc,
        )
        self._paused_until = time.monotonic() + REDIS_PAUSE_SECONDS

    def close(self) -> None:
        """Drop the Redis connections (the in-process counts need nothing)."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()


def limits_storage_url(redis_url: str) -> str:
    """``redis://...`` as the ``limits`` library names its asyncio Redis storage."""
    if redis_url.startswith("unix://"):
        return "async+redis+" + redis_url
    return "async+" + redis_url


def budgets(settings: Settings) -> list[Budget]:
    chosen = [
        ("key", settings.rate_limit_per_key, "This API key"),
        ("group", settings.rate_limit_per_group, "The API key's group"),
    ]
    return [Budget(name, limits.parse(rate), whose) for name, rate, whose in chosen if rate]


def request_limiter(settings: Settings) -> RequestLimiter | None:
    """The limiter the settings ask for; None when no budget is set."""
    chosen = budgets(settings)
    if not chosen:
        return None
    storage: Storage
    if settings.redis_url:
        storage = RedisStorage(
            limits_storage_url(settings.redis_url),
            key_prefix=settings.redis_key_prefix,
            wrap_exceptions=True,
            connect_timeout=REDIS_TIMEOUT_SECONDS,
            stream_timeout=REDIS_TIMEOUT_SECONDS,
            retry_policy=NoRetryPolicy(),  # a failure is answered by a pause, not by waiting
        )
    else:
        storage = MemoryStorage()
    return RequestLimiter(chosen, storage)
