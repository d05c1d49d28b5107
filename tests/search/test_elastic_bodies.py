"""The Elasticsearch index definition, query and bulk actions, as built (no Elasticsearch
needed; the contract suite runs the same bodies against a real one when it is configured)."""

from datetime import UTC, datetime
from types import SimpleNamespace

from customer_api.search.analysis import SEARCH_FIELDS, SearchQuery, document_of
from customer_api.search.elastic import (
    delete_action,
    index_action,
    index_definition,
    search_body,
)


def test_index_definition() -> None:
    definition = index_definition()
    assert definition["settings"]["analysis"]["analyzer"]["words"] == {
        "type": "custom",
        "tokenizer": "whitespace",  # the words are already cut and folded: no other filter
    }
    mappings = definition["mappings"]
    assert mappings["dynamic"] == "strict"
    properties = mappings["properties"]
    assert properties["group_id"] == {"type": "keyword"}
    assert properties["active"] == {"type": "boolean"}
    assert properties["customer_id"] == {"type": "long"}
    for field in SEARCH_FIELDS:
        assert properties[field.name]["type"] == "text"
        assert properties[field.name]["analyzer"] == "words"
        assert properties[field.name]["index_prefixes"] == {"min_chars": 1, "max_chars": 19}
    assert set(properties) == {"group_id", "active", "customer_id"} | {
        field.name for field in SEARCH_FIELDS
    }


FIELDS = ["name^10", "number^10", "contact^5", "place^2", "projects^2", "notes^1"]


def test_search_body() -> None:
    body = search_body(
        SearchQuery.parse('Anna C-47 "hor'), group_id=42, include_inactive=False, limit=50
    )
    assert body["query"]["bool"]["should"] == [
        {"multi_match": {"query": "anna", "type": "most_fields", "fields": FIELDS}},
        {"multi_match": {"query": "c 47", "type": "phrase", "fields": FIELDS}},
        # The last term also as a prefix.
        {"multi_match": {"query": "hor", "type": "bool_prefix", "fields": FIELDS}},
    ]
    assert body["query"]["bool"]["minimum_should_match"] == 1  # terms are ORed
    assert body["query"]["bool"]["filter"] == [
        {"term": {"group_id": "42"}},
        {"term": {"active": True}},
    ]
    assert body["size"] == 50
    assert body["sort"] == [{"_score": "desc"}, {"customer_id": "asc"}]
    assert body["_source"] is False


def test_search_body_inactive_and_phrase_prefix() -> None:
    body = search_body(SearchQuery.parse("anna.jo"), group_id=1, include_inactive=True, limit=5)
    assert body["query"]["bool"]["filter"] == [{"term": {"group_id": "1"}}]
    assert body["query"]["bool"]["should"] == [
        {"multi_match": {"query": "anna jo", "type": "phrase_prefix", "fields": FIELDS}}
    ]


def test_search_body_short_last_word_is_whole() -> None:
    body = search_body(SearchQuery.parse("anna b"), group_id=1, include_inactive=True, limit=5)
    kinds = [clause["multi_match"]["type"] for clause in body["query"]["bool"]["should"]]
    assert kinds == ["most_fields", "most_fields"]


def test_index_action_carries_the_external_version() -> None:
    customer = SimpleNamespace(
        id=9,
        group_id=2,
        name="Wendy",
        customer_number=None,
        email=None,
        phone=None,
        mobile=None,
        address=None,
        postal_code=None,
        city="Malmö",
        notes=None,
        active=False,
        modified=datetime(2026, 1, 2, tzinfo=UTC),
    )
    action = index_action(document_of(customer, ["Barn"]), "customers")
    assert action == {
        "_op_type": "index",
        "_index": "customers",
        "_id": "9",
        "version": 1767312000000,
        "version_type": "external_gte",
        "_source": {
            "customer_id": 9,
            "group_id": "2",
            "active": False,
            "name": "wendy",
            "number": "",
            "contact": "",
            "place": "malmö",
            "projects": "barn",
            "notes": "",
        },
    }


def test_delete_action() -> None:
    assert delete_action(9, 123, "customers") == {
        "_op_type": "delete",
        "_index": "customers",
        "_id": "9",
        "version": 123,
        "version_type": "external_gte",
    }
