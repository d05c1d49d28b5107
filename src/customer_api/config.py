"""Settings, read from the environment with the prefix ``CUSTOMER_API_``."""

import ipaddress
from functools import lru_cache
from pathlib import Path

import limits
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

MIB = 1024 * 1024
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTOMER_API_", extra="ignore")

    database_url: str = "sqlite:///./data/customer-api.db"
    elasticsearch_url: str | None = None
    elasticsearch_index: str = Field(default="customers", pattern=r"^[a-z0-9][a-z0-9_-]{0,200}$")
    indexer_in_process: bool = True
    vault_dir: Path = Path("./data/vault")
    max_upload_bytes: int = Field(default=100 * MIB, gt=0)
    max_json_bytes: int = Field(default=1 * MIB, gt=0)
    database_pool_size: int = Field(default=10, ge=1, le=1000)
    database_pool_timeout: float = Field(default=5.0, gt=0, le=300)
    key_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # Request budgets ("600/minute", a ``limits`` string; "" or "0" turns one off), counted in
    # this process, or in Redis (shared by every process and host) when redis_url is set.
    rate_limit_per_key: str = "600/minute"
    rate_limit_per_group: str = "3000/minute"
    redis_url: str | None = None
    redis_key_prefix: str = Field(default="customer-api", pattern=r"^[A-Za-z0-9:._-]{1,100}$")
    max_concurrent_requests: int = Field(default=1000, ge=1)
    shutdown_timeout: int = Field(default=20, ge=1, le=3600)
    worker_start_timeout: int = Field(default=120, ge=5, le=3600)
    header_timeout: float = Field(default=15.0, gt=0, le=600)
    body_timeout: float = Field(default=60.0, gt=0, le=3600)
    deletion_retention_days: float = Field(default=90.0, gt=0, le=3650)
    idempotency_key_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    thumbnail_timeout: float = Field(default=10.0, gt=0, le=300)
    thumbnail_cpu_seconds: int = Field(default=5, ge=1, le=300)
    thumbnail_memory_bytes: int = Field(default=256 * MIB, ge=128 * MIB)
    thumbnail_concurrency: int = Field(default=2, ge=1, le=64)
    thumbnail_queue: int = Field(default=16, ge=0, le=10_000)
    # Webhooks: networks deliveries may reach although not public (comma-separated CIDRs),
    # whether ``serve`` runs a dispatcher, the retry schedule (seconds) and when a failing
    # subscription is turned off (that many failed attempts in a row over at least those hours).
    webhook_allowed_networks: str = ""
    webhook_dispatcher_in_process: bool = True
    webhook_retry_delays: str = "2,10,30,120,600,1800,3600,10800,21600,43200"
    webhook_disable_after_failures: int = Field(default=20, ge=1)
    webhook_disable_after_hours: float = Field(default=24.0, ge=0)
    # How long a dispatcher keeps a delivery it claimed before another may try it again.
    webhook_lease_seconds: float = Field(default=30.0, gt=0, le=3600)
    # How often an idle dispatcher looks for work without being woken (retries falling due;
    # other processes' events on SQLite, which has no notifications).
    webhook_poll_seconds: float = Field(default=0.1, gt=0, le=60)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    # Peers whose X-Forwarded-For/-Proto are believed: addresses or networks, comma-separated.
    forwarded_allow_ips: str = "127.0.0.1,::1"
    log_level: str = "info"

    @field_validator("elasticsearch_url", "redis_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("rate_limit_per_key", "rate_limit_per_group")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        """Refused at start rather than at the first request: a typo must not turn limits off."""
        value = value.strip()
        if value in ("", "0"):
            return ""
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError(
                f"give a rate such as 600/minute or 10/second ('' or 0: no limit), not {value!r}"
            ) from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("give a redis://host:port/db (or rediss://, unix://) URL")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().lower()
        if level not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        """uvicorn takes what it cannot parse as a literal that matches no peer: refuse typos."""
        items = [item.strip() for item in value.split(",")]
        if items == ["*"]:
            return "*"
        for item in items:
            parse = ipaddress.ip_network if "/" in item else ipaddress.ip_address
            try:
                parse(item)
            except ValueError as exc:
                raise ValueError(
                    f"give IP addresses or networks (such as 10.0.0.0/8), or '*' alone: {exc}"
                ) from None
        return ",".join(items)

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"give networks such as 10.0.0.0/8, comma-separated: {exc}"
                ) from None
        return ",".join(items)

    @field_validator("webhook_retry_delays")
    @classmethod
    def _delays(cls, value: str) -> str:
        try:
            delays = [float(item) for item in value.split(",") if item.strip()]
        except ValueError:
            raise ValueError("give seconds, comma-separated, such as 2,10,30") from None
        if any(delay < 0 for delay in delays):
            raise ValueError("delays cannot be negative")
        return ",".join(str(delay) for delay in delays)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        async_database_url(value)  # raises ValueError for an unsupported scheme
        return value

    @property
    def async_database_url(self) -> str:
        return async_database_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.async_database_url.startswith("sqlite")


_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
}


def async_database_url(url: str) -> str:
    """Pick the async driver for a plain URL, so operators can write ``postgresql://...``."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _ASYNC_DRIVERS:
        raise ValueError(
            "unsupported database URL: use sqlite:///path or postgresql://user@host:port/db"
        )
    converted = f"{_ASYNC_DRIVERS[scheme]}://{rest}"
    try:
        make_url(converted)
    except ValueError:  # e.g. a port that is not a number
        raise ValueError(
            "malformed database URL: write sqlite:///path or postgresql://user@host:port/db"
        ) from None
    return converted


@lru_cache
def get_settings() -> Settings:
    return Settings()
