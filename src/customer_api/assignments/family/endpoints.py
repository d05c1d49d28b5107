"""What every endpoint of the family shares: the key, unknown parameters, ids, list envelopes."""

import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, WithJsonSchema
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.assignments.family.errors import InvalidParam
from customer_api.assignments.family.query import (
    DATE_FILTERS,
    DEFAULT_SORT,
    ORDERS,
    MomentFilter,
    Page,
    parse_iso_8601,
    read_date_filters,
    read_integer,
    read_page,
)
from customer_api.assignments.family.statements import Listing
from customer_api.assignments.schemas import DeletedRead, PageOf, Paging, error_responses
from customer_api.auth.dependencies import CurrentPrincipal
from customer_api.core.conditional import require_match
from customer_api.core.db import SessionDep
from customer_api.core.errors import ASSIGNMENTS_PREFIX
from customer_api.core.schemas import NO_NUL
from customer_api.deletions import service as deletions

# The key may travel as a query parameter on every request.
KEY_PARAMETERS = frozenset({"api_key", "api_token"})

Row = TypeVar("Row")
Item = TypeVar("Item")


def _declared_query(dependant: Dependant) -> frozenset[str]:
    """The query parameters an endpoint declares, its dependencies' included (a few dozen
    objects to walk: cheaper than any cache that must outlive the app)."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared_query(sub)
    return frozenset(names)


async def known_query_only(request: Request, _principal: CurrentPrincipal) -> None:
    """400 invalid_param naming every query parameter the endpoint does not declare.

    A dependency of every router of the family; it runs after the key check, so a caller
    without a key learns nothing.
    """
    route: APIRoute = request.scope["route"]
    allowed = _declared_query(route.dependant) | KEY_PARAMETERS
    unknown = [name for name in request.query_params if name not in allowed]
    if unknown:
        raise InvalidParam.unknown(unknown)


# Parameters are read from their raw text so that a wrong one is answered in the family's own
# words (invalid_param_type, invalid_datetime_format); the document still states their real type.
# An empty query value (``?max=``) counts as absent, and the document says so too.
def _documented(schema: dict[str, Any], *, empty_allowed: bool = True) -> WithJsonSchema:
    if empty_allowed:
        schema = {"anyOf": [*schema.get("anyOf", [schema]), {"type": "string", "maxLength": 0}]}
    return WithJsonSchema(schema)


_INTEGER = _documented({"type": "integer"}, empty_allowed=False)
_COUNT = _documented({"type": "integer", "minimum": 0})
_PAGE_SIZE = _documented({"type": "integer", "minimum": 1})
_ORDER = _documented({"type": "string", "enum": list(ORDERS)})
_MOMENT = _documented(
    {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
)
# What ``is_true`` reads: true or false in any case, 1 or 0 (blanks around are ignored).
BOOLEAN = _documented(
    {
        "anyOf": [
            {"type": "boolean"},
            {
                "type": "string",
                "pattern": r"^\s*(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[01])\s*$",
            },
        ]
    }
)


async def _path_id(
    id: Annotated[str, Path(description="The id of the wanted record"), _INTEGER],
) -> int:
    return read_integer("id", id)


PathId = Annotated[int, Depends(_path_id)]
PathReference = Annotated[str, Path(description="A reference (external id)", pattern=NO_NUL)]
BY_ID = "/{id}"
BY_REFERENCE = "/reference/{reference}"
# The statuses of an endpoint that addresses one record.
FOUND = error_responses(400, 404)


def family_router(resource: str, tag: str) -> APIRouter:
    """A router of the family: key required, unknown query parameters refused, and a body
    without Content-Type read as JSON."""
    return APIRouter(
        prefix=f"{ASSIGNMENTS_PREFIX}/{resource}",
        tags=[tag],
        dependencies=[Depends(known_query_only)],
        responses=error_responses(400),
        strict_content_type=False,
    )


def lookups(
    find: Callable[..., Awaitable[Row]], show: Callable[[Row], BaseModel]
) -> tuple[Any, Any]:
    """The dependencies that find the group's record named by the path, by id and by reference;
    ``find(session, group_id=..., key=...)`` answers the family's 404 itself. A write's
    If-Match is checked against the record as ``show`` presents it."""

    async def by_id(
        id: PathId, request: Request, principal: CurrentPrincipal, session: SessionDep
    ) -> Row:
        return await current_row(request, session, find, show, group_id=principal.group_id, key=id)

    async def by_reference(
        reference: PathReference,
        request: Request,
        principal: CurrentPrincipal,
        session: SessionDep,
    ) -> Row:
        return await current_row(
            request, session, find, show, group_id=principal.group_id, key=reference
        )

    return Depends(by_id), Depends(by_reference)


_CONDITIONAL_WRITES = frozenset({"PUT", "DELETE"})


async def current_row(
    request: Request,
    session: AsyncSession,
    find: Callable[..., Awaitable[Row]],
    show: Callable[[Row], BaseModel],
    **lookup: Any,
) -> Row:
    """``find(session, **lookup)``; for a write with If-Match, found again once locked (so that
    no other write can come between the comparison and this one), and 412 unless the tag names
    the record's current answer."""
    row = await find(session, **lookup)
    if_match = request.headers.get("if-match")
    if if_match is None or request.method not in _CONDITIONAL_WRITES:
        return row
    state = sa_inspect(row)
    [key_column] = state.mapper.primary_key
    await session.execute(
        select(key_column).where(key_column == state.identity[0]).with_for_update()
    )
    session.expunge_all()  # what was read before the lock may be stale
    row = await find(session, **lookup)
    require_match(if_match, show(row).model_dump_json(by_alias=True).encode())
    return row


TextFilter = Annotated[
    str | None,
    Query(
        description="Exact match, or a wildcard search with `*` (any characters): "
        "`Ref-6*`, `*ef-6`, `*ef-6*`. Case-sensitive; `%` and `_` are literal.",
        max_length=200,
        pattern=NO_NUL,
    ),
]


def _date_description(name: str) -> str:
    field, operator = DATE_FILTERS[name]
    what = "creation" if field == "dateCreated" else "last-modified"
    comparison = {
        "gt": "after",
        "gte": "at or after",
        "lt": "before",
        "lte": "at or before",
    }[operator]
    return (
        f"Only resources whose {what} date time is {comparison} this ISO-8601 moment "
        "(`2016-08-15T14:52:48Z`), compared in whole seconds."
    )


def _deleted_query(comparison: str) -> Any:
    description = (
        f"Instead of the records, the tombstones of those deleted {comparison} this ISO-8601 "
        "moment (id, reference, dateDeleted), oldest first: how a sync learns of deletions."
    )
    return Annotated[str | None, Query(description=description, max_length=64), _MOMENT]


def _date_query(name: str) -> Any:
    return Annotated[str | None, Query(description=_date_description(name), max_length=64), _MOMENT]


class ListParams:
    """Paging, order and the eight date filters every list of the family takes."""

    # Set by ``list_query``, which knows the list's fields.
    sort: str | None = None
    sorts: Sequence[str] = ()

    def __init__(
        self,
        offset: Annotated[
            str | None,
            Query(description="Where to start in the whole result (default 0)"),
            _COUNT,
        ] = None,
        max_: Annotated[
            str | None,
            Query(
                alias="max",
                description="How many to return: default 100, at most 1000 (more is served "
                "as 1000)",
            ),
            _PAGE_SIZE,
        ] = None,
        order: Annotated[str | None, Query(description="asc (default) or desc"), _ORDER] = None,
        dateCreated_gt: _date_query("dateCreated_gt") = None,
        dateCreated_gte: _date_query("dateCreated_gte") = None,
        dateCreated_lt: _date_query("dateCreated_lt") = None,
        dateCreated_lte: _date_query("dateCreated_lte") = None,
        lastUpdated_gt: _date_query("lastUpdated_gt") = None,
        lastUpdated_gte: _date_query("lastUpdated_gte") = None,
        lastUpdated_lt: _date_query("lastUpdated_lt") = None,
        lastUpdated_lte: _date_query("lastUpdated_lte") = None,
        dateDeleted_gt: _deleted_query("after") = None,
        dateDeleted_gte: _deleted_query("at or after") = None,
    ) -> None:
        self.offset, self.max, self.order = offset, max_, order
        self.dates = {
            "dateCreated_gt": dateCreated_gt,
            "dateCreated_gte": dateCreated_gte,
            "dateCreated_lt": dateCreated_lt,
            "dateCreated_lte": dateCreated_lte,
            "lastUpdated_gt": lastUpdated_gt,
            "lastUpdated_gte": lastUpdated_gte,
            "lastUpdated_lt": lastUpdated_lt,
            "lastUpdated_lte": lastUpdated_lte,
            "dateDeleted_gt": dateDeleted_gt,
            "dateDeleted_gte": dateDeleted_gte,
        }

    def page(self) -> Page:
        return read_page(
            offset=self.offset, size=self.max, sort=self.sort, order=self.order, sorts=self.sorts
        )

    def moments(self) -> list[MomentFilter]:
        return read_date_filters(self.dates)

    def deleted_since(self) -> datetime | None:
        """The moment of ``dateDeleted_gte`` (or just past ``dateDeleted_gt``, in whole
        seconds), when the list is to be of deleted records; else None."""
        if text := self.dates["dateDeleted_gte"]:
            return parse_iso_8601(text)
        if text := self.dates["dateDeleted_gt"]:
            return parse_iso_8601(text) + timedelta(seconds=1)
        return None

    def filters_given(self, **others: str | None) -> list[tuple[str, str]]:
        """The filters the client gave (empty ones count as absent), to echo in page links."""
        given = {**self.dates, **others}
        return [(name, value) for name, value in given.items() if value]


async def _list_params(**given: str | None) -> ListParams:
    return ListParams(**given)


# The constructor's parameters, declared by an async function so that FastAPI calls it on the
# event loop (a plain function or class would cost a hop to a worker thread per request).
_list_params.__signature__ = inspect.signature(ListParams)  # type: ignore[attr-defined]


def list_query(sorts: Iterable[str]) -> Any:
    """The parameters of a list whose rows can be ordered by ``sorts`` (documented as such)."""
    choices = list(sorts)

    async def read(
        params: Annotated[ListParams, Depends(_list_params)],
        sort: Annotated[
            str | None,
            Query(description=f"The field to order by (default {DEFAULT_SORT})"),
            _documented({"type": "string", "enum": choices}),
        ] = None,
    ) -> ListParams:
        params.sort, params.sorts = sort, choices
        return params

    return Annotated[ListParams, Depends(read)]


def given(value: str | None) -> str | None:
    """An empty filter (``?customerReference=``) is no filter."""
    return value or None


async def deleted_page(
    request: Request, session: AsyncSession, group_id: int, params: ListParams, resource: str
) -> PageOf[DeletedRead] | None:
    """When the list is asked with ``dateDeleted_*``, the family's envelope over the tombstones
    of the resource; else None."""
    since = params.deleted_since()
    if since is None:
        return None
    params.moments()  # the other date filters do not apply, but are still checked
    page = params.page()
    found = {"group_id": group_id, "resource": resource, "since": since}
    total = await deletions.count_deleted_since(session, **found, after=False)
    rows = await deletions.deleted_since(session, **found, limit=page.max, offset=page.offset)
    listing = Listing(total, rows)
    echoed = params.filters_given()
    return page_of(request, page=page, listing=listing, filters=echoed, show=DeletedRead.of)


def page_of(
    request: Request,
    *,
    page: Page,
    listing: Listing[Row],
    filters: list[tuple[str, str]],
    show: Callable[[Row], Item],
) -> PageOf[Item]:
    """The envelope: paging with links to the neighbouring pages, and the rows shown."""
    previous, following = page.neighbours(listing.total)

    def link(offset: int | None) -> str | None:
        if offset is None:
            return None
        pairs = [
            ("max", str(page.max)),
            ("sort", page.sort),
            ("order", page.order),
            *filters,
            ("offset", str(offset)),
        ]
        return f"{request.url.path}?{urlencode(pairs, quote_via=quote, safe='*:')}"

    paging = Paging(
        total=listing.total,
        max=page.max,
        offset=page.offset,
        previous=link(previous),
        next=link(following),
    )
    return PageOf(paging=paging, data=[show(row) for row in listing.items])
