"""Elasticsearch: an explicit mapping, a boosted ``multi_match``, writes through the outbox.

Searches go to an alias (``CUSTOMER_API_ELASTICSEARCH_INDEX``, default ``customers``) that
points at one concrete index; ``customer-api reindex`` builds a new index and moves the alias
in one atomic step, so searching never stops.

Documents hold the words ``analysis.words`` cut (one text field per search field) and are
analysed with the whitespace tokenizer only, so Elasticsearch matches exactly the words SQLite
and Postgres match. The query is those words too, each term a ``multi_match`` (which analyses
text and has no query syntax of its own: user text cannot become a query).

Every write carries an external version (the customer's change counter, ``SearchVersion``:
one more at every change, deletions included, whatever the clocks say) with
``version_type=external_gte``, so a replayed or late write never replaces newer data:
Elasticsearch answers it with a version conflict, which counts as done.

The alias is the only name written to: bulk requests say ``require_alias``, so a write that
finds no alias fails (``index_not_found_exception``) instead of making a plain index with
guessed mappings, and the indexer makes the alias again. The first index has a fixed name, so
workers and indexers that all start at once and find no alias make one index between them.
"""

import logging
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch.helpers import ScanError, async_bulk, async_scan
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.core.db import Database
from customer_api.core.timestamps import utcnow
from customer_api.customers.models import Customer
from customer_api.search import outbox, source
from customer_api.search.analysis import SEARCH_FIELDS, SearchDocument, SearchQuery, Term
from customer_api.search.backend import (
    RebuildProgress,
    SearchBackend,
    SearchFailed,
    SearchHit,
    SearchUnavailable,
)
from customer_api.search.models import SearchVersion

logger = logging.getLogger("customer_api.search.elastic")

ElasticError = (TransportError, ApiError)
"""What the client raises when Elasticsearch is unreachable or refuses a request."""

VERSION_TYPE = "external_gte"
FIRST_INDEX_SUFFIX = "first"
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
    refused: dict[int, str] = field(default_factory=dict)
    """Customer id -> why Elasticsearch refused the document itself (retrying will not help)."""
    failed: dict[int, str] = field(default_factory=dict)
    """Customer id -> why it could not be written now (busy, no index): worth retrying."""
    index_missing: bool = False
    """Some item found no index behind the alias."""

    @property
    def not_done(self) -> dict[int, str]:
        return {**self.failed, **self.refused}


DONE, MISSING, REFUSED, FAILED = "done", "missing", "refused", "failed"


def error_type(error: object) -> str:
    """The ``type`` of an Elasticsearch error (an item's ``error`` or an ApiError's body)."""
    if isinstance(error, dict):
        inner = error.get("error", error)
        if isinstance(inner, dict):
            return str(inner.get("type", ""))
    return ""


def _reason(item: dict[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, dict):
        error = f"{error.get('type')}: {error.get('reason')}"
    return f"status {item.get('status')}: {error}"


def item_outcome(op_type: str, item: dict[str, Any]) -> str:
    """What a bulk item's answer means for its outbox entries.

    Done: written, newer data already there (a version conflict), or nothing to delete (a
    404 whose ``result`` is ``not_found``: any other 404 is an error). Missing: no index behind
    the alias. Failed: Elasticsearch is busy or the alias has no write index (worth retrying).
    Refused: any other 4xx, a refusal of the document itself.
    """
    status, error = item.get("status", 500), item.get("error")
    kind = error_type(item)
    if 200 <= status < 300:
        return DONE
    if status == 409 and kind == "version_conflict_engine_exception":
        return DONE
    if (
        op_type == "delete"
        and status == 404
        and error is None
        and item.get("result") == "not_found"
    ):
        return DONE
    if kind == "index_not_found_exception":
        return MISSING
    if status == 429 or status >= 500 or "no write index" in str(error):
        return FAILED
    return REFUSED


class IndexSetupError(RuntimeError):
    """The alias cannot be made: another index holds its name or its first index's name."""


class ElasticIndex:
    """The customer index behind its alias, through the official async client."""

    def __init__(self, client: AsyncElasticsearch, alias: str) -> None:
        self.client = client
        self.alias = alias

    @classmethod
    def connect(cls, url: str, alias: str) -> "ElasticIndex":
        client = AsyncElasticsearch(url, node_class="httpxasync", request_timeout=10, max_retries=1)
        return cls(client, alias)

    @property
    def first_index_name(self) -> str:
        """The name of the index ``ensure`` makes: the same in every process, so that of many
        first starts at once one creates it and the others are told it exists."""
        return f"{self.alias}-{FIRST_INDEX_SUFFIX}"

    def new_index_name(self) -> str:
        """A rebuild's index: the time, and random characters so that two rebuilds started
        in the same instant do not collide."""
        return f"{self.alias}-{utcnow().strftime('%Y%m%d%H%M%S%f')}-{secrets.token_hex(4)}"

    async def create_index(self, name: str | None = None, *, with_alias: bool = False) -> str:
        name = name or self.new_index_name()
        definition = index_definition()
        await self.client.indices.create(
            index=name,
            settings=definition["settings"],
            mappings=definition["mappings"],
            aliases={self.alias: {"is_write_index": True}} if with_alias else None,
        )
        return name

    async def ensure(self) -> None:
        """Make the first index and its alias when there is no alias yet.

        Creating an index is atomic in Elasticsearch: when several processes try at once, one
        succeeds and the others get ``resource_already_exists_exception``, and all see the one
        alias afterwards. Raises IndexSetupError when something else holds the names.
        """
        if await self.client.indices.exists_alias(name=self.alias):
            return
        try:
            name = await self.create_index(self.first_index_name, with_alias=True)
            logger.info("created search index %s behind alias %s", name, self.alias)
        except ApiError as exc:
            if error_type(exc.body) not in (
                "resource_already_exists_exception",
                "invalid_alias_name_exception",
            ):
                raise
            if not await self.client.indices.exists_alias(name=self.alias):
                raise IndexSetupError(
                    f"cannot make the alias {self.alias!r} ({error_type(exc.body)}): an index "
                    f"holds the name {self.alias!r} or {self.first_index_name!r} without the "
                    "alias; run `customer-api reindex`, which replaces it"
                ) from exc

    async def current_indices(self) -> list[str]:
        if not await self.client.indices.exists_alias(name=self.alias):
            return []
        return list((await self.client.indices.get_alias(name=self.alias)).body)

    async def _plain_index_under_alias_name(self) -> bool:
        """Whether a concrete index has the alias's name (a write that found no alias made it
        before bulk writes required the alias)."""
        if await self.client.indices.exists_alias(name=self.alias):
            return False
        return bool(await self.client.indices.exists(index=self.alias))

    async def swap_alias(self, new_index: str) -> list[str]:
        """Point the alias at ``new_index`` alone, as its write index, atomically (replacing a
        plain index that took the alias's name); the indices it left."""
        old = await self.current_indices()
        actions: list[dict[str, Any]] = [
            {"remove": {"index": index, "alias": self.alias}} for index in old
        ]
        if await self._plain_index_under_alias_name():
            actions.append({"remove_index": {"index": self.alias}})
        actions.append({"add": {"index": new_index, "alias": self.alias, "is_write_index": True}})
        await self.client.indices.update_aliases(actions=actions)
        return [index for index in old if index != new_index]

    async def search(self, body: dict[str, Any]) -> list[SearchHit]:
        response = await self.client.search(index=self.alias, body=body)
        return [
            SearchHit(int(hit["_id"]), float(hit["_score"] or 0.0))
            for hit in response["hits"]["hits"]
        ]

    async def bulk(
        self, actions: Sequence[dict[str, Any]], *, require_alias: bool = False
    ) -> BulkOutcome:
        """Send actions with ``helpers.async_bulk``; per customer, done or why not.

        Raises the client's error when the request as a whole fails (Elasticsearch cannot be
        reached, or answers the whole request with an error): that says nothing about the
        documents, so none of them is counted as refused.
        """
        outcome = BulkOutcome()
        if not actions:
            return outcome
        _, errors = await async_bulk(
            self.client,
            actions,
            raise_on_error=False,
            raise_on_exception=True,
            require_alias=require_alias,
        )
        for error in errors:  # type: ignore[union-attr]
            op_type, item = next(iter(error.items()))
            found = item_outcome(op_type, item)
            if found == DONE:
                continue
            customer_id = int(item["_id"])
            if found == REFUSED:
                outcome.refused[customer_id] = _reason(item)
            else:
                outcome.failed[customer_id] = _reason(item)
                outcome.index_missing |= found == MISSING
        outcome.done = {int(action["_id"]) for action in actions} - set(outcome.not_done)
        return outcome

    async def versions(self, index: str) -> AsyncIterator[tuple[int, int]]:
        """Every document of ``index``: its customer id and version. Raises RebuildFailed when
        shards fail on the way (the client's ScanError)."""
        query = {"query": {"match_all": {}}, "version": True}
        try:
            async for hit in async_scan(self.client, index=index, query=query, _source=False):
                yield int(hit["_id"]), int(hit.get("_version") or 0)
        except ScanError as exc:
            raise RebuildFailed(f"reading {index} back failed: {exc}") from exc

    async def refresh(self, index: str | None = None) -> None:
        await self.client.indices.refresh(index=index or self.alias)

    async def delete_indices(self, names: Iterable[str]) -> None:
        for name in names:
            await self.client.indices.delete(index=name, ignore_unavailable=True)

    async def close(self) -> None:
        await self.client.close()


class RebuildFailed(RuntimeError):
    """Elasticsearch refused documents or failed to read them back during a rebuild."""


class ElasticBackend(SearchBackend):
    name = "elasticsearch"

    def __init__(self, index: ElasticIndex) -> None:
        self.index = index

    async def open(self) -> None:
        try:
            await self.index.ensure()
        except ElasticError as exc:
            logger.warning("Elasticsearch is not reachable yet (%s); the indexer will retry", exc)
        except IndexSetupError as exc:
            logger.error("%s", exc)

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
            if is_outage(exc):
                logger.error("search failed, Elasticsearch is unavailable: %s", exc)
                raise SearchUnavailable("Search is unavailable at the moment.") from exc
            logger.error("search failed, Elasticsearch refused the query: %s", exc)
            raise SearchFailed() from exc

    async def record_change(self, session: AsyncSession, customer: Customer) -> None:
        """An outbox entry carrying the customer's next version (a deletion too: it outranks
        every version before it)."""
        version = await outbox.next_version(session, customer.id)
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
            old_indices = await self.index.swap_alias(new_index)
        except BaseException:
            await self.index.delete_indices([new_index])
            raise
        try:
            await self._copy(database, new_index, progress=None, modified_since=started)
            await self._drop_deleted(database, new_index)
        finally:
            # No longer behind the alias whatever happened since: searches never see them again.
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
            if outcome.not_done:
                customer_id, reason = next(iter(outcome.not_done.items()))
                raise RebuildFailed(f"customer {customer_id} was refused: {reason}")
            after_id = documents[-1].customer_id
            copied += len(documents)
            if progress is not None:
                progress.advance(len(documents))

    async def _drop_deleted(self, database: Database, index: str) -> None:
        batch: dict[int, int] = {}
        async for customer_id, version in self.index.versions(index):
            batch[customer_id] = version
            if len(batch) >= source.REBUILD_BATCH:
                await self._drop_missing(database, index, batch)
                batch = {}
        await self._drop_missing(database, index, batch)

    async def _drop_missing(self, database: Database, index: str, found: dict[int, int]) -> None:
        """Delete the documents of customers that are gone, each at its deletion's version
        (or the document's own, when it is higher or the customer left no counter)."""
        if not found:
            return
        ids = list(found)
        async with database.sessions() as session:
            existing = set(await session.scalars(select(Customer.id).where(Customer.id.in_(ids))))
            rows = await session.execute(
                select(SearchVersion.customer_id, SearchVersion.version).where(
                    SearchVersion.customer_id.in_(ids)
                )
            )
            counters = {customer_id: version for customer_id, version in rows}
        gone = [
            delete_action(i, max(counters.get(i, 0), version), index)
            for i, version in found.items()
            if i not in existing
        ]
        await self.index.bulk(gone)


def is_outage(exc: Exception) -> bool:
    """Whether an error of the client means search cannot work right now (Elasticsearch
    unreachable or overloaded, or no index behind the alias until the indexer or a reindex
    makes one), rather than a refusal of the query itself."""
    if isinstance(exc, ApiError):
        missing = error_type(exc.body) == "index_not_found_exception"
        return missing or exc.status_code == 429 or exc.status_code >= 500
    return True
