"""The indexer: drains the outbox into Elasticsearch, at least once, in order, with backoff.

Each round claims a batch of due entries, re-reads the current state of their customers (so a
replay sends today's data, never a stale copy), sends one bulk request, deletes the entries
Elasticsearch took and postpones the others with a growing delay. Entries are only ever deleted
once indexed; while Elasticsearch is down they wait in the database. An entry whose document
Elasticsearch refuses (a 4xx of its own) ``outbox.MAX_REFUSALS`` times becomes a dead letter:
set aside, counted in /metrics, listed and retried by ``customer-api dead-letters``.
"""

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.core.db import Database
from customer_api.search import outbox, source
from customer_api.search.elastic import (
    BulkOutcome,
    ElasticError,
    ElasticIndex,
    IndexSetupError,
    delete_action,
    index_action,
)
from customer_api.search.models import SearchOutboxEntry
from customer_api.search.wakeup import Wakeup, for_database

logger = logging.getLogger("customer_api.search.indexer")

BATCH_SIZE = 500
MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class RoundResult:
    claimed: int = 0
    indexed: int = 0
    failed: int = 0
    error: str | None = None
    """Set when Elasticsearch could not be reached at all."""


class Indexer:
    def __init__(
        self,
        database: Database,
        index: ElasticIndex,
        *,
        batch_size: int = BATCH_SIZE,
        wakeup: Wakeup | None = None,
    ) -> None:
        self.database = database
        self.index = index
        self.batch_size = batch_size
        self.wakeup = wakeup or for_database(database)
        self._index_ready = False

    async def run_once(self) -> RoundResult:
        """One round: claim, read, send, settle; all in one transaction."""
        async with self.database.sessions() as session, session.begin():
            entries = await outbox.claim(session, limit=self.batch_size)
            if not entries:
                return RoundResult()
            return await self._send(session, entries)

    async def _send(self, session: AsyncSession, entries) -> RoundResult:
        by_customer: dict[int, list[SearchOutboxEntry]] = defaultdict(list)
        for entry in entries:
            by_customer[entry.customer_id].append(entry)
        documents = await source.documents_by_id(session, list(by_customer))
        actions = [
            index_action(documents[customer_id], self.index.alias)
            if customer_id in documents
            else delete_action(customer_id, max(entry.version for entry in own), self.index.alias)
            for customer_id, own in by_customer.items()
        ]
        try:
            result = await self._write(actions)
        except (*ElasticError, IndexSetupError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            await outbox.postpone(session, entries, error=error)
            return RoundResult(claimed=len(entries), failed=len(entries), error=error)
        done = [e for cid in result.done for e in by_customer[cid]]
        await outbox.complete(session, done)
        for customer_id, reason in result.failed.items():
            await outbox.postpone(session, by_customer[customer_id], error=reason)
        for customer_id, reason in result.refused.items():
            for entry in await outbox.refuse(session, by_customer[customer_id], error=reason):
                logger.error(
                    "outbox entry %s (customer %s) is a dead letter: %s",
                    entry.id,
                    customer_id,
                    reason,
                )
        return RoundResult(claimed=len(entries), indexed=len(done), failed=len(entries) - len(done))

    async def _write(self, actions: list[dict]) -> BulkOutcome:
        """One bulk request to the alias; when the alias turns out to be missing (its index was
        deleted), the first index is made again and what found no index is sent once more."""
        if not self._index_ready or any(a["_op_type"] == "delete" for a in actions):
            # A delete carrying an external version makes the index it names when it is
            # missing (require_alias covers writes only): never send one to a missing alias.
            await self.index.ensure()
            self._index_ready = True
        result = await self.index.bulk(actions, require_alias=True)
        if not result.index_missing:
            return result
        logger.error(
            "no index behind the alias %s: making an empty one; run `customer-api reindex` to "
            "fill it with every customer",
            self.index.alias,
        )
        await self.index.ensure()
        again = [action for action in actions if int(action["_id"]) in result.failed]
        retried = await self.index.bulk(again, require_alias=True)
        result.failed = {i: r for i, r in result.failed.items() if i not in retried.done}
        result.failed.update(retried.failed)
        result.refused.update(retried.refused)
        result.done |= retried.done
        return result

    async def drain(self) -> int:
        """Run rounds until nothing is due; the number of entries indexed."""
        indexed = 0
        while True:
            result = await self.run_once()
            indexed += result.indexed
            if not result.claimed or result.error:
                return indexed

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set: busy while there is work, then asleep until a commit
        wakes it (see ``wakeup``), with an exponential backoff (with jitter) while
        Elasticsearch cannot be reached."""
        failures = 0
        try:
            while not stop.is_set():
                await self.wakeup.listen(self.database)
                try:
                    result = await self.run_once()
                except Exception:  # a database hiccup must not end the indexer
                    logger.exception("indexer round failed")
                    result = RoundResult(error="round failed")
                if result.error:
                    failures += 1
                    delay = backoff_delay(failures)
                    logger.warning(
                        "Elasticsearch unavailable (%s); retrying in %.1fs", result.error, delay
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=delay)
                    continue
                failures = 0
                if not result.claimed:
                    await self.wakeup.wait(stop)
        finally:
            await self.wakeup.close()


def backoff_delay(failures: int) -> float:
    """1, 2, 4 ... seconds up to a minute, each with up to 10% jitter so that several
    indexers do not knock on a recovering Elasticsearch at the same instant."""
    base = min(MAX_BACKOFF, 2.0 ** min(failures - 1, 10))
    return base * (1 + random.random() / 10)
