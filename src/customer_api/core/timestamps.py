"""Time in one form inside (aware UTC datetimes, millisecond precision), the API's forms outside."""

import re
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# Epoch milliseconds, also written as a whole decimal (``1444003200000.0``): the document says
# integer, and JSON Schema counts 3.0 as one.
_EPOCH_MS = re.compile(r"^(-?\d{1,15})(?:\.0*)?$")


def utcnow() -> datetime:
    """Now, truncated to milliseconds so that epoch-ms round trips are exact."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_epoch_ms(moment: datetime) -> int:
    """Exact, by integer arithmetic (every answer carries a few: it is on the hot path)."""
    delta = moment - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
MIN_EPOCH_MS = to_epoch_ms(EARLIEST)
MAX_EPOCH_MS = to_epoch_ms(LATEST)


def from_epoch_ms(millis: int) -> datetime:
    """Exact (no float rounding); OverflowError outside years 1 to 9999."""
    return _EPOCH + timedelta(milliseconds=millis)


def _to_utc(moment: datetime) -> datetime:
    """An offset at the very ends of the calendar may cross them: clamp rather than fail."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return EARLIEST if moment.year == 1 else LATEST


def to_iso_seconds(moment: datetime) -> str:
    """The ``YYYY-MM-DDTHH:MM:SSZ`` form of the /api/v1.0 family."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_moment(text: str) -> datetime:
    """Read a date, an ISO-8601 timestamp or epoch milliseconds; naive values are UTC.

    Raises ValueError for anything else.
    """
    text = text.strip()
    try:
        if epoch_ms := _EPOCH_MS.match(text):
            return from_epoch_ms(int(epoch_ms.group(1)))
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        return _to_utc(datetime.fromisoformat(text.replace("z", "Z")))
    except (OverflowError, OSError) as exc:
        raise ValueError(f"{text!r} is out of range") from exc


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware, on SQLite as on Postgres."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
