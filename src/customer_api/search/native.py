"""What the two database-native backends share: same-transaction updates and in-place rebuilds."""

from abc import abstractmethod
from collections.abc import Sequence

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.core.db import Database
from customer_api.customers.models import Customer
from customer_api.search import source
from customer_api.search.analysis import SearchDocument, document_of
from customer_api.search.backend import RebuildProgress, SearchBackend


class DatabaseIndexBackend(SearchBackend):
    """An index kept in the database itself, written in the transaction of each change."""

    async def record_change(self, session: AsyncSession, customer: Customer) -> None:
        state = inspect(customer)
        if state.deleted or state.was_deleted:
            await self.forget(session, customer.id)
            return
        project_names = [project.name for project in customer.projects]
        await self.write(session, [document_of(customer, project_names)])

    async def rebuild(self, database: Database, progress: RebuildProgress) -> int:
        """Rewrite every customer's index row in place, batch by batch: searches keep working
        and writers only ever wait for one batch."""
        async with database.sessions() as session:
            progress.begin("Indexing customers", await source.count_customers(session))
        indexed, after_id = 0, 0
        while True:
            async with database.sessions() as session, session.begin():
                await self.lock_for_rebuild(session)
                documents = await source.documents_after(
                    session, after_id=after_id, lock=self.lock_rows
                )
                if not documents:
                    break
                await self.write(session, documents)
            after_id = documents[-1].customer_id
            indexed += len(documents)
            progress.advance(len(documents))
        async with database.sessions() as session, session.begin():
            await self.remove_orphans(session)
        return indexed

    lock_rows: bool = False
    """Whether a rebuild batch share-locks the customers it reads."""

    async def lock_for_rebuild(self, session: AsyncSession) -> None:
        """Take whatever lock makes a rebuild batch's read-then-write atomic."""

    @abstractmethod
    async def indexed_count(self, session: AsyncSession) -> int:
        """How many customers the index holds."""

    @abstractmethod
    async def write(self, session: AsyncSession, documents: Sequence[SearchDocument]) -> None:
        """Insert or replace these customers' index rows."""

    async def forget(self, session: AsyncSession, customer_id: int) -> None:
        """Delete a deleted customer's index row."""

    async def remove_orphans(self, session: AsyncSession) -> None:
        """Delete index rows whose customer no longer exists."""
