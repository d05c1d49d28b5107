"""Elasticsearch: an explicit mapping, a boosted ``multi_match``, writes through the outbox.

Searches go to an alias (``CUSTOMER_API_ELASTICSEARCH_INDEX``, default ``customers``) that
points at one concrete index; ``customer-api reindex`` builds a new index and moves the alias
in one atomic step, so searching never stops.

Documents hold the words ``analysis.words`` cut (one text field per search field) and are
analysed with the whitespace tokenizer only, so Elasticsearch matches exactly the words SQLite
and Postgres match. The query is those words too, each term a ``multi_match`` (which analyses
text and has no query syntax of its own: user text cannot become a query).

Every write carries an external version (the customer's ``modified`` in epoch ms, or the time
of its deletion) with ``version_type=external_gte``, so a replayed or late write never replaces
newer data: Elasticsearch answers it with a version conflict, which counts as done.
"""

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch.helpers import async_bulk, async_scan
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.core.db import Database
from customer_api.core.timestamps import to_epoch_ms, utcnow
from customer_api.customers.models import Customer
from customer_api.search import outbox, source
from customer_api.search.analysis import SEARCH_FIELDS, SearchDocument, SearchQuery, Term
from customer_api.search.backend import RebuildProgress, SearchBackend, SearchHit, SearchUnavailable

logger = logging.getLogger("customer_api.search.elastic")

ElasticError = (TransportError, ApiError)
"""What the client raises when Elasticsearch is unreachable or refuses a request."""

VERSION_TYPE = "external_gte"
MAX_PREFIX_CHARS = 19  # the most index_prefixes allows
# A rebuild also re-sends customers changed shortly before it started, in case a clock or a
# slow transaction put their change just before the rebuild's start.
CATCH_UP_MARGIN = timedelta(minutes=1)


def index_definition() -> dict[str, Any]:
    """Settings and mappings of a customer index."""
    text_field = {
        "type": "text",
        "analyzer": "words",
        # Prefix terms are indexed, so the last query term matches every word it starts,
        # not only the first few (a plain prefix query expands to at most 50 words).
        "index_prefixes": {"min_chars": 1, "max_chars": MAX_PREFIX_CHARS},
    }
    return {
        "settings": {
            "analysis": {"analyzer": {"words": {"type": "custom", "tokenizer": "whitespace"}}}
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "customer_id": {"type": "long"},
                "group_id": {"type": "keyword"},
                "active": {"type": "boolean"},
                **{search_field.name: dict(text_field) for search_field in SEARCH_FIELDS},
            },
        },
    }


def term_query(term: Term) -> dict[str, Any]:
    """One term over the boosted fields: a word, or a phrase whose words follow each other;
    with ``prefix``, its last word also as the start of a longer word."""
    if len(term.words) == 1:
        kind = "bool_prefix" if term.prefix else "most_fields"
    else:
        kind = "phrase_prefix" if term.prefix else "phrase"
    return {
        "multi_match": {
            "query": " ".join(term.words),
            "type": kind,
            "fields": [f"{f.name}^{f.boost:g}" for f in SEARCH_FIELDS],
        }
    }


def search_body(
    query: SearchQuery, *, group_id: int, include_inactive: bool, limit: int
) -> dict[str, Any]:
    """One group's best matches: any term over the boosted fields, ties by id."""
    filters: list[dict[str, Any]] = [{"term": {"group_id": str(group_id)}}]
    if not include_inactive:
        filters.append({"term": {"active": True}})
    return {
        "query": {
            "bool": {
                "should": [term_query(term) for term in query.terms],
                "minimum_should_match": 1,
                "filter": filters,
            }
        },
        "size": limit,
        "sort": [{"_score": "desc"}, {"customer_id": "asc"}],
        "track_scores": True,
        "track_total_hits": False,
        "_source": False,
    }


def index_action(document: SearchDocument, index: str) -> dict[str, Any]:
    return {
        "_op_type": "index",
        "_index": index,
        "_id": str(document.customer_id),
        "version": document.version,
        "version_type": VERSION_TYPE,
        "_source": {
            "customer_id": document.customer_id,
            "group_id": str(document.group_id),
            "active": document.active,
            **{f.name: document.text(f) for f in SEARCH_FIELDS},
        },
    }


def delete_action(customer_id: int, version: int, index: str) -> dict[str, Any]:
    return {
        "_op_type": "delete",
        "_index": index,
        "_id": str(customer_id),
        "version": version,
        "version_type": VERSION_TYPE,
    }


@dataclass
class BulkOutcome:
    done: set[int] = field(default_factory=set)
    failed: dict[int, str] = field(default_factory=dict)
    """Customer id -> why Elasticsearch refused it."""


def _settled(op_type: str, item: dict[str, Any]) -> bool:
    """Whether a bulk item needs no retry: it succeeded, newer data was already there (409),
    or there was nothing to delete (404)."""
    status = item.get("status", 500)
    return 200 <= status < 300 or status == 409 or (op_type == "delete" and status == 404)


class ElasticIndex:
    """The customer index behind its alias, through the official async client."""

    def __init__(self, client: AsyncElasticsearch, alias: str) -> None:
        self.client = client
        self.alias = alias

    @classmethod
    def connect(cls, url: str, alias: str) -> "ElasticIndex":
        client = AsyncElasticsearch(url, node_class="httpxasync", request_timeout=10, max_retries=1)
        return cls(client, alias)

    def new_index_name(self) -> str:
        return f"{self.alias}-{utcnow().strftime('%Y%m%d%H%M%S%f')}"

    async def create_index(self, *, with_alias: bool = False) -> str:
        name = self.new_index_name()
        definition = index_definition()
        await self.client.indices.create(
            index=name,
            settings=definition["settings"],
            mappings=definition["mappings"],
            aliases={self.alias: {}} if with_alias else None,
        )
        return name

    async def ensure(self) -> None:
        """Make the first index and its alias when there is none yet."""
        if not await self.client.indices.exists_alias(name=self.alias):
            name = await self.create_index(with_alias=True)
            logger.info("created search index %s behind alias %s", name, self.alias)

    async def current_indices(self) -> list[str]:
        if not await self.client.indices.exists_alias(name=self.alias):
            return []
        return list((await self.client.indices.get_alias(name=self.alias)).body)

    async def swap_alias(self, new_index: str) -> list[str]:
        """Point the alias at ``new_index`` alone, atomically; the indices it left."""
        old = await self.current_indices()
        actions: list[dict[str, Any]] = [
            {"remove": {"index": index, "alias": self.alias}} for index in old
        ]
        actions.append({"add": {"index": new_index, "alias": self.alias}})
        await self.client.indices.update_aliases(actions=actions)
        return [index for index in old if index != new_index]

    async def search(self, body: dict[str, Any]) -> list[SearchHit]:
        response = await self.client.search(index=self.alias, body=body)
        return [
            SearchHit(int(hit["_id"]), float(hit["_score"] or 0.0))
            for hit in response["hits"]["hits"]
        ]

    async def bulk(self, actions: Sequence[dict[str, Any]]) -> BulkOutcome:
        """Send actions with ``helpers.async_bulk``; per customer, done or why not.

        Raises the client's error when Elasticsearch cannot be reached at all.
        """
        outcome = BulkOutcome()
        if not actions:
            return outcome
        _, errors = await async_bulk(
            self.client, actions, raise_on_error=False, raise_on_exception=False
        )
        for error in errors:  # type: ignore[union-attr]
            op_type, item = next(iter(error.items()))
            if not _settled(op_type, item):
                reason = item.get("error")
                if isinstance(reason, dict):
                    reason = f"{reason.get('type')}: {reason.get('reason')}"
                outcome.failed[int(item["_id"])] = f"status {item.get('status')}: {reason}"
        outcome.done = {int(action["_id"]) for action in actions} - set(outcome.failed)
        return outcome

    async def ids(self, index: str) -> AsyncIterator[int]:
        async for hit in async_scan(
            self.client, index=index, query={"query": {"match_all": {}}}, _source=False
        ):
            yield int(hit["_id"])

    async def refresh(self, index: str | None = None) -> None:
        await self.client.indices.refresh(index=index or self.alias)

    async def delete_indices(self, names: Iterable[str]) -> None:
        for name in names:
            await self.client.indices.delete(index=name, ignore_unavailable=True)

    async def close(self) -> None:
        await self.client.close()


class RebuildFailed(RuntimeError):
    """Elasticsearch refused documents during a rebuild; the alias was left as it was."""


class ElasticBackend(SearchBackend):
    name = "elasticsearch"

    def __init__(self, index: ElasticIndex) -> None:
        self.index = index

    async def open(self) -> None:
        try:
            await self.index.ensure()
        except ElasticError as exc:
            logger.warning("Elasticsearch is not reachable yet (%s); the indexer will retry", exc)

    async def close(self) -> None:
        await self.index.close()

    async def search(
        self,
        session: AsyncSession,
        *,
        group_id: int,
        query: SearchQuery,
        include_inactive: bool,
        limit: int,
    ) -> list[SearchHit]:
        body = search_body(query, group_id=group_id, include_inactive=include_inactive, limit=limit)
        try:
            return await self.index.search(body)
        except ElasticError as exc:
            logger.error("search failed: %s", exc)
            raise SearchUnavailable("Search is unavailable at the moment.") from exc

    async def record_change(self, session: AsyncSession, customer: Customer) -> None:
        state = inspect(customer)
        version = to_epoch_ms(customer.modified)
        if state.deleted or state.was_deleted:
            # A deletion outranks every version of the customer it deletes.
            version = max(to_epoch_ms(utcnow()), version + 1)
        await outbox.enqueue(session, customer_id=customer.id, version=version)

    async def rebuild(self, database: Database, progress: RebuildProgress) -> int:
        """Build a new index from the database, move the alias to it, then catch up with
        changes made meanwhile and drop what was deleted meanwhile."""
        started = utcnow() - CATCH_UP_MARGIN
        new_index = await self.index.create_index()
        try:
            async with database.sessions() as session:
                total = await source.count_customers(session)
            progress.begin(f"Indexing customers into {new_index}", total)
            indexed = await self._copy(database, new_index, progress)
            await self.index.refresh(new_index)
        except BaseException:
            await self.index.delete_indices([new_index])
            raise
        old_indices = await self.index.swap_alias(new_index)
        await self._copy(database, new_index, progress=None, modified_since=started)
        await self._drop_deleted(database, new_index)
        await self.index.delete_indices(old_indices)
        return indexed

    async def _copy(
        self,
        database: Database,
        index: str,
        progress: RebuildProgress | None,
        modified_since=None,
    ) -> int:
        copied, after_id = 0, 0
        while True:
            async with database.sessions() as session:
                documents = await source.documents_after(
                    session, after_id=after_id, modified_since=modified_since
                )
            if not documents:
                return copied
            outcome = await self.index.bulk([index_action(d, index) for d in documents])
            if outcome.failed:
                customer_id, reason = next(iter(outcome.failed.items()))
                raise RebuildFailed(f"customer {customer_id} was refused: {reason}")
            after_id = documents[-1].customer_id
            copied += len(documents)
            if progress is not None:
                progress.advance(len(documents))

    async def _drop_deleted(self, database: Database, index: str) -> None:
        batch: list[int] = []
        async for customer_id in self.index.ids(index):
            batch.append(customer_id)
            if len(batch) >= source.REBUILD_BATCH:
                await self._drop_missing(database, index, batch)
                batch = []
        await self._drop_missing(database, index, batch)

    async def _drop_missing(self, database: Database, index: str, ids: list[int]) -> None:
        if not ids:
            return
        async with database.sessions() as session:
            found = set(await session.scalars(select(Customer.id).where(Customer.id.in_(ids))))
        now = to_epoch_ms(utcnow())
        gone = [delete_action(i, now, index) for i in ids if i not in found]
        await self.index.bulk(gone)
