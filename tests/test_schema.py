"""The migrations build exactly the schema the models describe (what ``alembic check`` says)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from customer_api.models import include_in_schema_comparison, metadata


async def test_models_match_the_migrated_database(app) -> None:
    def differences(connection):
        context = MigrationContext.configure(
            connection, opts={"include_name": include_in_schema_comparison}
        )
        return compare_metadata(context, metadata)

    async with app.state.database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
