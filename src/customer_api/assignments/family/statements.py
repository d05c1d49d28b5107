"""What every list and write of the family shares: filters and order in SQL, pages, flushing."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Boolean, ColumnElement, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from customer_api.assignments.family.errors import (
    AssignmentApiError,
    DeleteFailed,
    NotFound,
    SaveFailed,
)
from customer_api.assignments.family.query import MomentFilter, Page
from customer_api.core.identifiers import MAX_ID

Row = TypeVar("Row")
SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Listing(Generic[Row]):
    total: int
    items: Sequence[Row]


async def fetch_page(
    session: AsyncSession, *, rows: Select[tuple[Row]], count: Select[tuple[int]], page: Page
) -> Listing[Row]:
    """The total and one page: two statements (one when the page is past the end)."""
    total = await session.scalar(count) or 0
    if page.offset >= total:
        return Listing(total, [])
    items = (await session.scalars(rows.limit(page.max).offset(page.offset))).unique().all()
    return Listing(total, items)


def counting(statement: Select[Any]) -> Select[tuple[int]]:
    """``SELECT count(*)`` over the rows a filtered statement selects."""
    return select(func.count()).select_from(statement.subquery())


def ordering(
    page: Page,
    columns: Mapping[str, ColumnElement[Any]],
    tiebreak: ColumnElement[Any],
    nullable: frozenset[str] = frozenset(),
) -> list[ColumnElement[Any]]:
    """ORDER BY the page's sort column, then the id in the same direction (a stable order).

    Rows without a value come last in ascending order and first in descending order, on SQLite
    as on Postgres.
    """
    column = columns[page.sort]
    key = column.desc() if page.descending else column.asc()
    if page.sort in nullable:
        key = key.nulls_first() if page.descending else key.nulls_last()
    if column is tiebreak:
        return [key]
    return [key, tiebreak.desc() if page.descending else tiebreak.asc()]


def moment_conditions(
    filters: Sequence[MomentFilter], columns: Mapping[str, ColumnElement[Any]]
) -> list[ColumnElement[bool]]:
    """Date filters, compared at the precision the API shows: whole seconds.

    ``dateCreated_gt=T`` keeps what is shown after T, so a client may pass back a
    ``dateCreated`` it has read and not see that row again. Each condition is a plain range on
    the column, so an index serves it.
    """
    conditions = []
    for moment_filter in filters:
        column = columns[moment_filter.field]
        whole = moment_filter.moment.replace(microsecond=0)
        next_second = whole + SECOND
        rounded_up = whole if moment_filter.moment.microsecond == 0 else next_second
        conditions.append(
            {
                "gt": column >= next_second,
                "gte": column >= rounded_up,
                "lt": column < rounded_up,
                "lte": column < next_second,
            }[moment_filter.operator]
        )
    return conditions


class _WildcardMatch(FunctionElement[bool]):
    """``column`` matches a pattern in which ``*`` stands for any characters, case-sensitively.

    Rendered as ``LIKE ... ESCAPE`` on Postgres and as ``GLOB`` on SQLite (whose LIKE ignores
    case and whose GLOB can use the column's index for a prefix).
    """

    type = Boolean()
    name = "wildcard_match"
    inherit_cache = True


@compiles(_WildcardMatch)
def _render_like(element: _WildcardMatch, compiler: SQLCompiler, **kw: Any) -> str:
    column, like_pattern, _glob_pattern = element.clauses
    return (
        f"{compiler.process(column, **kw)} LIKE {compiler.process(like_pattern, **kw)} ESCAPE '\\'"
    )


@compiles(_WildcardMatch, "sqlite")
def _render_glob(element: _WildcardMatch, compiler: SQLCompiler, **kw: Any) -> str:
    column, _like_pattern, glob_pattern = element.clauses
    return f"{compiler.process(column, **kw)} GLOB {compiler.process(glob_pattern, **kw)}"


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _glob_literal(text: str) -> str:
    return "".join(f"[{char}]" if char in "*?[" else char for char in text)


def text_condition(column: ColumnElement[Any], value: str) -> ColumnElement[bool]:
    """``value`` with ``*`` wildcards (any characters); without one, an exact match.

    Every other character is literal, ``%``, ``_`` and ``\\`` included.
    """
    if "*" not in value:
        return column == value
    pieces = value.split("*")
    like = "%".join(_like_literal(piece) for piece in pieces)
    glob = "*".join(_glob_literal(piece) for piece in pieces)
    return _WildcardMatch(column, like, glob)


def can_exist(key: int) -> bool:
    """Whether a number can be an id at all (a positive 32-bit integer)."""
    return 0 < key <= MAX_ID


def ensure_id(what: str, key: int) -> int:
    """The id, or the family's 404 for a number no row can have (never sent to SQL)."""
    if not can_exist(key):
        raise NotFound.of(what, key)
    return key


async def flush(session: AsyncSession, *, on_duplicate: AssignmentApiError) -> None:
    """Flush; a unique value taken meanwhile is ``on_duplicate``, any other refusal save_failed."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if "unique" in str(exc.orig).lower() or "duplicate" in str(exc.orig).lower():
            raise on_duplicate from exc
        raise SaveFailed() from exc


async def delete(session: AsyncSession, instance: object) -> None:
    """Delete now; a row that something refers to meanwhile is delete_failed."""
    await session.delete(instance)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise DeleteFailed() from exc
