"""Every domain's models, imported in one place so the metadata is complete (Alembic, tests)."""

from typing import Any

from customer_api.assignments.models import CustomerEmployee, Employee, Route, RouteVisit
from customer_api.auth.models import ApiKey, Group
from customer_api.core.db import Base
from customer_api.customers.models import Customer, CustomerProject
from customer_api.deletions.models import Deletion
from customer_api.documents.models import CustomerDocument, Document
from customer_api.idempotency.models import IdempotentRequest
from customer_api.search.models import SearchOutboxEntry, SearchVersion
from customer_api.webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription

metadata = Base.metadata


def include_in_schema_comparison(name: str | None, type_: str, _parent_names: object) -> bool:
    """Leave out of schema comparison the tables made per dialect and not mapped by the models
    (their prefixes are listed in ``metadata.info["unmapped_table_prefixes"]``)."""
    if type_ != "table" or name is None or name in metadata.tables:
        return True
    prefixes = tuple(metadata.info.get("unmapped_table_prefixes", ()))
    return not name.startswith(prefixes)


def schema_comparison_options(dialect: str) -> dict[str, Any]:
    """Alembic's filters for comparing the models with a database of this dialect: the unmapped
    tables are left out, and so are indexes that exist only on another dialect (listed in
    ``metadata.info["postgresql_only_indexes"]``)."""
    postgresql_only = frozenset(metadata.info.get("postgresql_only_indexes", ()))
    elsewhere = frozenset() if dialect == "postgresql" else postgresql_only

    def include_object(_object: object, name: str | None, type_: str, *_: object) -> bool:
        return not (type_ == "index" and name in elsewhere)

    return {"include_name": include_in_schema_comparison, "include_object": include_object}


__all__ = [
    "ApiKey",
    "Customer",
    "CustomerDocument",
    "CustomerEmployee",
    "CustomerProject",
    "Deletion",
    "Document",
    "Employee",
    "Group",
    "IdempotentRequest",
    "Route",
    "RouteVisit",
    "SearchOutboxEntry",
    "SearchVersion",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
    "include_in_schema_comparison",
    "metadata",
    "schema_comparison_options",
]
