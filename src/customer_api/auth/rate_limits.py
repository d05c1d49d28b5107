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
from limits.aio.strategies import STRATEGIES, RateLimiter
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
    def policy(self) -> str:
        return f'"{self.name}";q={self.item.amount};w={self.item.get_expiry()}'


class RequestLimiter:
    """The budgets of a process, checked with one ``limits`` strategy over one storage."""

    def __init__(self, budgets: list[Budget], storage: Storage, strategy: str) -> None:
        self.budgets = budgets
        self._storage = storage
        self._strategy: RateLimiter = STRATEGIES[strategy](storage)
        self._shared = isinstance(storage, RedisStorage)
        self._paused_until = 0.0
        self._policy_header = (
            b"ratelimit-policy",
            ", ".join(budget.policy for budget in budgets).encode(),
        )

    @property
    def shared(self) -> bool:
        return self._shared

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
                f"{budget.item.get_expiry()} seconds; try again in {retry_after} seconds.",
                retry_after=retry_after,
            )

    async def _count(self, principal: Principal) -> tuple[list[str], tuple[Budget, int] | None]:
        fields: list[str] = []
        refused: tuple[Budget, int] | None = None
        for budget in self.budgets:
            identity = str(principal.key_id if budget.name == "key" else principal.group_id)
            # A request the key's budget refused is not counted against the group's.
            allowed = refused is None and await self._strategy.hit(
                budget.item, budget.name, identity
            )
            reset, remaining = await self._strategy.get_window_stats(
                budget.item, budget.name, identity
            )
            seconds = max(0, math.ceil(reset - time.time()))
            fields.append(f'"{budget.name}";r={max(0, remaining)};t={seconds}')
            if not allowed and refused is None:
                refused = (budget, max(1, seconds))
        return fields, refused

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
    return RequestLimiter(chosen, storage, settings.rate_limit_strategy)
