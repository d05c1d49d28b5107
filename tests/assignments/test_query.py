"""Reading list parameters, without HTTP: ISO-8601 dates, paging and the neighbouring pages."""

from datetime import UTC, datetime

import pytest

from customer_api.assignments.family.errors import (
    InvalidDatetimeFormat,
    InvalidParam,
    InvalidParamType,
)
from customer_api.assignments.family.query import Page, parse_iso_8601, read_integer, read_page

SORTS = ["id", "dateCreated"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-08-15T14:52:48Z", datetime(2016, 8, 15, 14, 52, 48, tzinfo=UTC)),
        ("2016-08-15T14:52:48.123456789Z", datetime(2016, 8, 15, 14, 52, 48, 123456, tzinfo=UTC)),
        ("2016-08-15T14:52:48.5Z", datetime(2016, 8, 15, 14, 52, 48, 500000, tzinfo=UTC)),
        ("2016-08-15T16:52:48+02:00", datetime(2016, 8, 15, 14, 52, 48, tzinfo=UTC)),
        ("2016-08-15T09:22:48-05:30", datetime(2016, 8, 15, 14, 52, 48, tzinfo=UTC)),
        ("2016-08-15T14:52Z", datetime(2016, 8, 15, 14, 52, tzinfo=UTC)),
        ("2016-08-15", datetime(2016, 8, 15, tzinfo=UTC)),
        ("2016-08-16T00:30:00 01:00", datetime(2016, 8, 15, 23, 30, tzinfo=UTC)),
    ],
)
def test_iso_8601(text, expected) -> None:
    assert parse_iso_8601(text) == expected


@pytest.mark.parametrize("text", ["", "2016-08-1Z", "2016-08-15T14:52:48+2", "2016/08/15"])
def test_not_iso_8601(text) -> None:
    with pytest.raises(InvalidDatetimeFormat) as error:
        parse_iso_8601(text)
    assert error.value.message == f"Invalid datetime filter (not ISO-8601 formatted): [{text}]"


def test_read_integer() -> None:
    assert read_integer("max", " 42 ") == 42
    assert read_integer("max", "+7") == 7
    assert read_integer("max", "-7") == -7
    assert read_integer("offset", "9" * 5000) == 10**30
    with pytest.raises(InvalidParamType):
        read_integer("max", "٤٢")  # digits, but not ASCII ones


def test_read_page_defaults_and_limits() -> None:
    assert read_page(offset=None, size=None, sort=None, order=None, sorts=SORTS) == Page(
        0, 100, "dateCreated", "asc"
    )
    assert read_page(offset="", size="", sort="", order="", sorts=SORTS).max == 100
    assert read_page(offset="3", size="4000", sort="id", order="DESC", sorts=SORTS) == Page(
        3, 1000, "id", "desc"
    )
    with pytest.raises(InvalidParam):
        read_page(offset=None, size="0", sort=None, order=None, sorts=SORTS)


@pytest.mark.parametrize(
    ("offset", "size", "total", "previous", "following"),
    [
        (0, 10, 0, None, None),
        (0, 10, 10, None, None),
        (0, 10, 11, None, 10),
        (10, 10, 11, 0, None),
        (5, 10, 30, 0, 15),
        (20, 10, 25, 10, None),
        (40, 10, 25, 15, None),  # past the end: back to the last rows
        (40, 10, 0, 0, None),
    ],
)
def test_neighbours(offset, size, total, previous, following) -> None:
    page = Page(offset, size, "id", "asc")
    assert page.neighbours(total) == (previous, following)
