"""Structured logs: one JSON object per line on stderr, each carrying the request's id.

The request id lives in a context variable set by the request middleware, so every line logged
while a request is handled (by any module) names the request it belongs to.
"""

import itertools
import logging
import logging.config
import re
import secrets
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
MAX_REQUEST_ID_LENGTH = 128
_NOT_IN_REQUEST_ID = re.compile(r"[^A-Za-z0-9._:=+/@-]")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def clean_request_id(raw: str | None) -> str | None:
    """A client's request id made safe to log and echo: visible ASCII only, bounded length."""
    if not raw:
        return None
    cleaned = _NOT_IN_REQUEST_ID.sub("", raw)[:MAX_REQUEST_ID_LENGTH]
    return cleaned or None


# 32 hex digits as a UUID's: a random part per process and a counter, so that making one costs
# no system call (a request makes one each).
_PROCESS_PART = secrets.token_hex(8)
_SEQUENCE = itertools.count(1)


def new_request_id() -> str:
    return f"{_PROCESS_PART}{next(_SEQUENCE):016x}"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being handled, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = request_id_var.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


# uvicorn adds a colourised copy of some messages; it has no place in a JSON line.
_SKIPPED_ATTRS = [*RESERVED_ATTRS, "color_message"]


def json_formatter() -> JsonFormatter:
    """``{"level", "logger", "message", ...extra fields, "request_id", "time"}`` on one line."""
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        reserved_attrs=_SKIPPED_ATTRS,
    )


def logging_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary, also handed to uvicorn for its workers.

    uvicorn's own access log is switched off: the request middleware writes one access line per
    request with the route template, status, latency and request id instead.
    """
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "sqlalchemy.engine": {"level": "WARNING"},
        },
    }


def configure_logging(level: str) -> None:
    """Send every log record, ours and the libraries', to stderr as JSON lines."""
    logging.config.dictConfig(logging_config(level))
