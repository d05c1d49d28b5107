"""Postgres full-text search: a weighted tsvector per customer with a GIN index.

The ``customer_search`` table (made by the migration; one row per customer, deleted with it by
its foreign key) holds the group, the ``active`` flag and a tsvector built here from
``analysis.words``: each word carries its field's weight (A name and customer number, B e-mail
and phones, C address, city and project names, D notes). Vector and query are written as
tsvector/tsquery literals of quoted lexemes, so neither Postgres' parser nor its dictionaries
nor the server locale change a word (the effect of the 'simple' configuration, made exact),
and user text never becomes tsquery syntax.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    CTE,
    Boolean,
    Insert,
    Integer,
    String,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
)
from sqlalchemy import table as sql_table
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR, insert
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.search.analysis import (
    SEARCH_FIELDS,
    SearchDocument,
    SearchQuery,
    Term,
    document_of,
)
from customer_api.search.backend import SearchHit
from customer_api.search.native import DatabaseIndexBackend

customer_search = sql_table(
    "customer_search",
    column("customer_id", Integer),
    column("group_id", Integer),
    column("active", Boolean),
    column("document", TSVECTOR),
)

MAX_POSITION = 16383  # Postgres' largest tsvector position
MAX_POSITIONS_PER_WORD = 256  # and the most positions it keeps per lexeme
# ts_rank's weights for D, C, B, A (its defaults, written out).
RANK_WEIGHTS = literal_column("'{0.1, 0.2, 0.4, 1.0}'::real[]")


def _lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(document: SearchDocument) -> str:
    """``'anna':1A 'malmö':6C,10C``: every word of every field at its position and weight;
    a position is skipped between fields, so no phrase reaches from one field into the next."""
    positions: dict[str, list[str]] = {}
    position = 0
    for field in SEARCH_FIELDS:
        position = min(position + 1, MAX_POSITION)
        for word in document.words[field.name]:
            position = min(position + 1, MAX_POSITION)
            kept = positions.setdefault(word, [])
            if len(kept) < MAX_POSITIONS_PER_WORD:
                kept.append(f"{position}{field.postgres_weight}")
    return " ".join(f"{_lexeme(word)}:{','.join(kept)}" for word, kept in positions.items())


def tsquery_literal(query: SearchQuery) -> str:
    """``'anna' | ( 'c' <-> '47' ) | 'hor':*``: the terms ORed (a phrase's words adjacent),
    the last word of the last term also as a prefix."""

    def term_literal(term: Term) -> str:
        lexemes = [_lexeme(word) for word in term.words]
        if term.prefix:
            lexemes[-1] += ":*"
        return lexemes[0] if len(lexemes) == 1 else f"( {' <-> '.join(lexemes)} )"

    return " | ".join(term_literal(term) for term in query.terms)


class PostgresFtsBackend(DatabaseIndexBackend):
    """Deleting a customer deletes its index row through the foreign key (so ``forget`` and
    ``remove_orphans`` have nothing to do), even when a whole group is deleted."""

    name = "postgres-fts"
    lock_rows = True

    async def search(
        self,
        session: AsyncSession,
        *,
        group_id: int,
        query: SearchQuery,
        include_inactive: bool,
        limit: int,
    ) -> list[SearchHit]:
        tsquery = cast(bindparam("tsquery", tsquery_literal(query), String), TSQUERY)
        document = customer_search.c.document
        rank = func.ts_rank(RANK_WEIGHTS, document, tsquery)
        statement = (
            select(customer_search.c.customer_id, rank.label("score"))
            .where(customer_search.c.group_id == group_id, document.bool_op("@@")(tsquery))
            .order_by(rank.desc(), customer_search.c.customer_id)
            .limit(limit)
        )
        if not include_inactive:
            statement = statement.where(customer_search.c.active.is_(True))
        rows = await session.execute(statement)
        return [SearchHit(row.customer_id, row.score) for row in rows]

    async def indexed_count(self, session: AsyncSession) -> int:
        count = select(func.count()).select_from(customer_search)
        return await session.scalar(count) or 0

    def index_new(self, customer: CTE) -> Insert:
        vector = cast(bindparam("search_vector", type_=String), TSVECTOR)
        row = select(customer.c.id, customer.c.group_id, customer.c.active, vector)
        return insert(customer_search).from_select(
            ["customer_id", "group_id", "active", "document"], row
        )

    def index_new_parameters(
        self, customer: Any, project_names: Sequence[str]
    ) -> dict[str, object]:
        return {"search_vector": tsvector_literal(document_of(customer, project_names))}

    async def write(self, session: AsyncSession, documents: Sequence[SearchDocument]) -> None:
        statement = insert(customer_search).values(
            customer_id=bindparam("customer_id"),
            group_id=bindparam("group_id"),
            active=bindparam("active"),
            document=cast(bindparam("document", type_=String), TSVECTOR),
        )
        statement = statement.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={
                "group_id": statement.excluded.group_id,
                "active": statement.excluded.active,
                "document": statement.excluded.document,
            },
        )
        await session.execute(
            statement,
            [
                {
                    "customer_id": document.customer_id,
                    "group_id": document.group_id,
                    "active": document.active,
                    "document": tsvector_literal(document),
                }
                for document in documents
            ],
        )
