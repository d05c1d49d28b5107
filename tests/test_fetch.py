"""``Database.fetch``: one statement straight to the driver (Postgres) or the right engine
(SQLite), a read or a write that commits on its own."""

from sqlalchemy import bindparam, insert, select

from customer_api.auth.models import Group
from customer_api.core.timestamps import utcnow

# Every value is a parameter: a statement sent to the driver gets no column defaults.
NEW_GROUP = (
    insert(Group)
    .values(name=bindparam("name"), created=bindparam("created"))
    .returning(Group.id, Group.name)
)
GROUP_BY_NAME = select(Group.id).where(Group.name == bindparam("name"))


async def test_a_write_in_one_statement_is_committed(app) -> None:
    database = app.state.database
    [created] = await database.fetch(NEW_GROUP, writes=True, name="Initech", created=utcnow())
    assert created["name"] == "Initech"
    async with database.reading() as session:  # another connection sees it: it committed
        assert (
            await session.scalar(select(Group.id).where(Group.name == "Initech")) == (created["id"])
        )


async def test_reads_answer_mappings_by_column_name(app) -> None:
    database = app.state.database
    [created] = await database.fetch(NEW_GROUP, writes=True, name="Umbrella", created=utcnow())
    assert [dict(row) for row in await database.fetch(GROUP_BY_NAME, name="Umbrella")] == [
        {"id": created["id"]}
    ]
    assert await database.fetch(GROUP_BY_NAME, name="nobody") == []
