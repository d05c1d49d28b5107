"""Child rows as a JSON array inside their parent's row: one statement for a customer with its
projects and documents, instead of one statement per kind of child.

The array is built by the database (Postgres ``json_agg``, SQLite ``json_group_array``); values
arrive in JSON's types, so ``decode_*`` below turn them back into what the columns hold (UUIDs,
booleans, aware UTC datetimes) on either database. The order inside an array is not defined:
callers sort.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, FromClause, func, literal_column, select, type_coerce
from sqlalchemy.sql.selectable import ScalarSelect


def json_array(
    dialect: str,
    fields: Mapping[str, ColumnElement[Any]],
    *,
    source: FromClause,
    where: ColumnElement[bool],
) -> ScalarSelect[Any]:
    """A correlated subquery: the rows of ``source`` matching ``where`` as a JSON array of
    objects with ``fields`` (``[]`` when there are none)."""
    pairs = [part for name, value in fields.items() for part in (_json_key(name), value)]
    if dialect == "postgresql":
        aggregate = func.coalesce(
            func.json_agg(func.json_build_object(*pairs)), literal_column("'[]'::json")
        )
    else:
        aggregate = func.json_group_array(func.json_object(*pairs))
    return select(type_coerce(aggregate, JSON)).select_from(source).where(where).scalar_subquery()


def json_object(fields: Mapping[str, ColumnElement[Any]]) -> ColumnElement[Any]:
    """A JSON object built by Postgres (``json_build_object``), its keys in the order given."""
    pairs = [part for name, value in fields.items() for part in (_json_key(name), value)]
    return func.json_build_object(*pairs)


def _json_key(name: str) -> ColumnElement[str]:
    if not name.isidentifier():
        raise ValueError(f"not a field name: {name!r}")
    return literal_column(f"'{name}'")


def decode_uuid(value: str) -> str:
    """A UUID's text with dashes: Postgres writes it so, SQLite stores 32 hex digits."""
    if len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


def decode_bool(value: bool | int) -> bool:
    return bool(value)


def decode_datetime(value: str | datetime | None) -> datetime | None:
    """Postgres writes an ISO timestamp with its offset, SQLite the stored naive UTC text."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
