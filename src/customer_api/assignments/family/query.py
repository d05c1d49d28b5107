"""Reading a list's query parameters: paging, sorting, ISO-8601 date filters, wildcard filters.

Plain values in, plain values out (or the family's errors): no HTTP and no SQL here.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from customer_api.assignments.family.errors import (
    InvalidDatetimeFormat,
    InvalidParam,
    InvalidParamType,
)
from customer_api.core.params import MAX_PAGE

DEFAULT_MAX = 100
# Larger offsets are certainly past the end of any list; keeping them bounded keeps SQL happy.
MAX_OFFSET = 2**62
DEFAULT_SORT = "dateCreated"
ORDERS = ("asc", "desc")

# A whole number; "7.0" too, as JSON Schema's integer (which the document declares) includes it.
_INTEGER = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_ISO_8601 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    # A "+" sent unencoded in a query string arrives as a space: read it as the "+" it was.
    r"(?P<zone>[Zz]|(?P<sign>[+\- ])(?P<zone_hour>[0-9]{2})(?::?(?P<zone_minute>[0-9]{2}))?)?)?"
)

DATE_FILTERS: dict[str, tuple[str, str]] = {
    f"{field}_{operator}": (field, operator)
    for field in ("dateCreated", "lastUpdated")
    for operator in ("gt", "gte", "lt", "lte")
}


@dataclass(frozen=True)
class Page:
    """Which slice of a list to return, in which order."""

    offset: int
    max: int
    sort: str
    order: str

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    def neighbours(self, total: int) -> tuple[int | None, int | None]:
        """Offsets of the previous and next pages (None at either end).

        From past the end, "previous" leads back to the last page that has rows.
        """
        previous = None
        if self.offset > 0:
            previous = max(0, min(self.offset, total) - self.max)
        following = self.offset + self.max if self.offset + self.max < total else None
        return previous, following


@dataclass(frozen=True)
class MomentFilter:
    """``dateCreated_gt=...``: field, operator (gt, gte, lt, lte) and the moment, in UTC."""

    field: str
    operator: str
    moment: datetime


def read_integer(name: str, text: str) -> int:
    """An integer parameter; anything else is ``invalid_param_type`` naming it."""
    text = text.strip()
    if not _INTEGER.fullmatch(text):
        raise InvalidParamType(name)
    text = text.partition(".")[0]
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > 30:  # beyond any id, count or offset: keep int() cheap and values sane
        return -(10**30) if text.startswith("-") else 10**30
    return int(text)


def read_page(
    *,
    offset: str | None,
    size: str | None,
    sort: str | None,
    order: str | None,
    sorts: Sequence[str],
) -> Page:
    """Paging as the family documents it (``size`` is ``max``); above 1000 is served as 1000."""
    page_size = DEFAULT_MAX if not size else read_integer("max", size)
    if page_size < 1:
        raise InvalidParam.value("max", "it must be 1 or more (at most 1000 are returned).")
    start = 0 if not offset else read_integer("offset", offset)
    if start < 0:
        raise InvalidParam.value("offset", "it must be 0 or more.")
    sort = sort or DEFAULT_SORT
    if sort not in sorts:
        raise InvalidParam.value("sort", f"use one of {', '.join(sorts)}.")
    order = (order or "asc").strip().lower()
    if order not in ORDERS:
        raise InvalidParam.value("order", "use asc or desc.")
    return Page(offset=min(start, MAX_OFFSET), max=min(page_size, MAX_PAGE), sort=sort, order=order)


def read_date_filters(values: Mapping[str, str | None]) -> list[MomentFilter]:
    """The given ``dateCreated_*`` / ``lastUpdated_*`` filters, parsed."""
    filters = []
    for name, (field, operator) in DATE_FILTERS.items():
        text = values.get(name)
        if text:
            filters.append(MomentFilter(field, operator, parse_iso_8601(text)))
    return filters


def parse_iso_8601(text: str) -> datetime:
    """An ISO-8601 date or date-time, in UTC.

    Accepts ``2016-08-15T14:52:48Z`` (the documented form), with or without seconds and
    fractions of a second, with ``Z``, an offset (``+02:00``, ``+0200``, ``+02``) or no zone
    (UTC), and a bare date (midnight UTC). Anything else is ``invalid_datetime_format``.
    """
    match = _ISO_8601.fullmatch(text)
    if match is None:
        raise InvalidDatetimeFormat(text)
    try:
        day = date.fromisoformat(match["date"])
        fraction = (match["fraction"] or "").ljust(6, "0")[:6]
        moment = datetime(
            day.year,
            day.month,
            day.day,
            int(match["hour"] or 0),
            int(match["minute"] or 0),
            int(match["second"] or 0),
            int(fraction),
            tzinfo=_zone(match),
        )
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidDatetimeFormat(text) from None


def _zone(match: re.Match[str]) -> timezone:
    if match["sign"] is None:
        return UTC
    minutes = int(match["zone_minute"] or 0)
    if minutes > 59:
        raise ValueError("minutes of an offset are at most 59")
    offset = timedelta(hours=int(match["zone_hour"]), minutes=minutes)
    return timezone(-offset if match["sign"] == "-" else offset)


def is_true(name: str, text: str) -> bool:
    """A boolean query parameter: true or false (any case), 1 or 0."""
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidParamType(name)
