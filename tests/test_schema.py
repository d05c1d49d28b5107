"""The migrations build exactly the schema the models describe (what ``alembic check`` says)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from customer_api.models import metadata, schema_comparison_options


async def test_models_match_the_migrated_database(app) -> None:
    def differences(connection):
        context = MigrationContext.configure(
            connection, opts=schema_comparison_options(connection.dialect.name)
        )
        return compare_metadata(context, metadata)

    async with app.state.database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
