"""SQLite FTS5: the embedded default, ranked by bm25 with column weights.

The FTS5 table (``customer_search_fts``, made by the migration) holds each customer's words as
``analysis.words`` cut them, one column per search field, under the ``ascii`` tokenizer: it
splits only where ``analysis`` put spaces, so FTS5 sees exactly our words. Its rowid is the
customer id. A ``scope`` column holds a token naming the group, so FTS5 itself narrows a
search to the caller's group; the join with ``customers`` checks the group again and applies
the ``active`` filter, so an entry left behind by a deleted customer can never be found. Such
entries are deleted with the customer (by the service, and by a trigger for deletions that
bypass it, such as a group's) and by any rebuild; a new customer reusing the id replaces it.
"""

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.search.analysis import SEARCH_FIELDS, SearchDocument, SearchQuery
from customer_api.search.backend import SearchHit
from customer_api.search.native import DatabaseIndexBackend

TABLE = "customer_search_fts"
_FIELD_COLUMNS = " ".join(field.name for field in SEARCH_FIELDS)
_WEIGHTS = ", ".join(str(field.boost) for field in SEARCH_FIELDS)

_UPSERT = text(
    f"INSERT OR REPLACE INTO {TABLE} (rowid, scope, {_FIELD_COLUMNS.replace(' ', ', ')}) "
    f"VALUES (:id, :scope, {', '.join(':' + field.name for field in SEARCH_FIELDS)})"
)
# bm25() is lower for better matches; the scope column weighs nothing.
_SEARCH = f"""
SELECT {TABLE}.rowid AS customer_id, -bm25({TABLE}, 0.0, {_WEIGHTS}) AS score
FROM {TABLE} JOIN customers ON customers.id = {TABLE}.rowid
WHERE {TABLE} MATCH :expression AND customers.group_id = :group_id {{active}}
ORDER BY score DESC, customer_id
LIMIT :limit
"""
_SEARCH_ACTIVE = text(_SEARCH.format(active="AND customers.active = 1"))
_SEARCH_ALL = text(_SEARCH.format(active=""))
_FORGET = text(f"DELETE FROM {TABLE} WHERE rowid = :id")
_REMOVE_ORPHANS = text(
    f"DELETE FROM {TABLE} WHERE rowid IN "
    f"(SELECT {TABLE}.rowid FROM {TABLE} LEFT JOIN customers ON customers.id = {TABLE}.rowid "
    "WHERE customers.id IS NULL)"
)


def _quoted(word: str) -> str:
    """An FTS5 string: whatever it holds is a phrase, never syntax."""
    return '"' + word.replace('"', '""') + '"'


def scope_token(group_id: int) -> str:
    return f"g{group_id}"


def match_expression(query: SearchQuery, group_id: int) -> str:
    """``scope : "g7" AND {name ... notes} : ("anna" OR "c 47" OR "hor"*)``: terms (words
    or phrases) ORed over the search fields only, inside the group."""
    terms = [_quoted(" ".join(term.words)) + ("*" if term.prefix else "") for term in query.terms]
    return (
        f"scope : {_quoted(scope_token(group_id))} AND "
        f"{{{_FIELD_COLUMNS}}} : ({' OR '.join(terms)})"
    )


class SqliteFtsBackend(DatabaseIndexBackend):
    name = "sqlite-fts5"

    async def search(
        self,
        session: AsyncSession,
        *,
        group_id: int,
        query: SearchQuery,
        include_inactive: bool,
        limit: int,
    ) -> list[SearchHit]:
        statement = _SEARCH_ALL if include_inactive else _SEARCH_ACTIVE
        rows = await session.execute(
            statement,
            {
                "expression": match_expression(query, group_id),
                "group_id": group_id,
                "limit": limit,
            },
        )
        return [SearchHit(row.customer_id, row.score) for row in rows]

    async def indexed_count(self, session: AsyncSession) -> int:
        return await session.scalar(text(f"SELECT count(*) FROM {TABLE}")) or 0

    async def write(self, session: AsyncSession, documents: Sequence[SearchDocument]) -> None:
        await session.execute(
            _UPSERT,
            [
                {
                    "id": document.customer_id,
                    "scope": scope_token(document.group_id),
                    **{field.name: document.text(field) for field in SEARCH_FIELDS},
                }
                for document in documents
            ],
        )

    # No lock_for_rebuild: every write transaction on SQLite begins IMMEDIATE (core.db), so
    # no writer commits between a batch's read and its write.

    async def forget(self, session: AsyncSession, customer_id: int) -> None:
        await session.execute(_FORGET, {"id": customer_id})

    async def remove_orphans(self, session: AsyncSession) -> None:
        await session.execute(_REMOVE_ORPHANS)
