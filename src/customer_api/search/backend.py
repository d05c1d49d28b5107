"""The search-backend interface: SQLite FTS5, Postgres and Elasticsearch each implement it."""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sqlalchemy import CTE, Insert
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.core.db import Database
from customer_api.core.errors import SERVER_ERROR_TEXT, CustomerApiError
from customer_api.core.logs import request_id_var
from customer_api.customers.models import Customer
from customer_api.search.analysis import SearchQuery


@dataclass(frozen=True)
class SearchHit:
    customer_id: int
    score: float


class SearchUnavailable(CustomerApiError):
    """The search engine cannot be reached; the customers themselves are safe in the database."""

    status_code = 503
    code = "service_unavailable"


class SearchFailed(CustomerApiError):
    """The search engine refused the query: a defect, not an outage (retrying will not help).
    A 500 that names the request, so the cause can be found in the log."""

    status_code = 500
    code = "server_error"

    def __init__(self) -> None:
        request_id = request_id_var.get()
        super().__init__(
            f"{SERVER_ERROR_TEXT} Search failed; quote request id {request_id}."
            if request_id
            else f"{SERVER_ERROR_TEXT} Search failed."
        )


class RebuildProgress(Protocol):
    """Where a rebuild reports how far it is (the CLI draws a progress bar from it)."""

    def begin(self, description: str, total: int) -> None: ...

    def advance(self, count: int) -> None: ...


class NoProgress:
    def begin(self, description: str, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass


class SearchBackend(ABC):
    """Finds a group's customers by words, and is kept in step with every customer change (the
    customers service's ``CustomerIndex``)."""

    name: ClassVar[str]

    @abstractmethod
    async def search(
        self,
        session: AsyncSession,
        *,
        group_id: int,
        query: SearchQuery,
        include_inactive: bool,
        limit: int,
    ) -> list[SearchHit]:
        """The best hits first (ties by id); never another group's customers."""

    @abstractmethod
    async def record_change(self, session: AsyncSession, customer: Customer) -> None:
        """Keep the index in step with a customer just written or deleted, in the same
        transaction (a database-native index row, or an outbox row for Elasticsearch)."""

    def index_new(self, customer: CTE) -> Insert | None:
        """An insert that indexes a customer being inserted by ``customer`` (a data-modifying
        CTE returning the new row) in the same statement, or None when this backend cannot.
        Its parameters come from ``index_new_parameters``."""
        return None

    def index_new_parameters(
        self, customer: Any, project_names: Sequence[str]
    ) -> dict[str, object]:
        """For a customer not yet inserted (``id`` None), as ``document_of`` takes it."""
        return {}

    @abstractmethod
    async def rebuild(self, database: Database, progress: RebuildProgress) -> int:
        """Rebuild the whole index from the database while searches go on; the number of
        customers indexed."""

    async def open(self) -> None:
        """Prepare for use (e.g. make sure an index exists); must not fail when a remote
        engine is down."""
        return None

    async def close(self) -> None:
        """Release connections."""
        return None
