"""How text becomes words, and how each database backend writes them: the part of the matching
contract that every backend shares by construction."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from customer_api.search.analysis import (
    MAX_WORD_LENGTH,
    QueryError,
    SearchQuery,
    Term,
    document_of,
    words,
)
from customer_api.search.postgres_fts import tsquery_literal, tsvector_literal
from customer_api.search.sqlite_fts import match_expression


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wendy WARNER", ["wendy", "warner"]),
        ("wendy.warner@example.org", ["wendy", "warner", "example", "org"]),
        ("+46 (0)8-123 456", ["46", "0", "8", "123", "456"]),
        ("name:x AND (y OR z*)", ["name", "x", "and", "y", "or", "z"]),
        ("snake_case", ["snake", "case"]),
        ("\uff21\uff22\uff23 \ufb01ne", ["abc", "fine"]),  # NFKC: full-width letters, ligatures
        ("Straße", ["strasse"]),  # case folding
        ("Cafe\u0301", ["café"]),  # a decomposed accent stays in its word
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),  # combining vowel signs too
        ("😀 \x00 — …", []),
        ("", []),
        (None, []),
    ],
)
def test_words(text, expected) -> None:
    assert words(text) == expected


def test_long_words_are_cut() -> None:
    assert words("x" * 100) == ["x" * MAX_WORD_LENGTH]


def test_query_last_term_is_a_prefix() -> None:
    query = SearchQuery.parse("Anna  anna HOR")
    assert query.terms == (Term(("anna",)), Term(("hor",), prefix=True))


def test_query_words_typed_together_are_a_phrase() -> None:
    query = SearchQuery.parse("C-0004711 anna.berg@example.se")
    assert query.terms == (
        Term(("c", "0004711")),
        Term(("anna", "berg", "example", "se"), prefix=True),
    )


def test_query_short_last_term_is_whole_word_only() -> None:
    query = SearchQuery.parse("anna b")
    assert query.terms == (Term(("anna",)), Term(("b",)))


def test_query_repeating_the_last_term() -> None:
    query = SearchQuery.parse("hor anna hor")
    assert query.terms == (Term(("anna",)), Term(("hor",), prefix=True))


def test_query_without_words_is_empty() -> None:
    assert SearchQuery.parse("((( 😀 *").is_empty
    assert SearchQuery.parse("((( a").terms == (Term(("a",)),)


@pytest.mark.parametrize("text", [None, "", "  \t"])
def test_query_is_required(text) -> None:
    with pytest.raises(QueryError, match="required"):
        SearchQuery.parse(text)


def test_query_limits() -> None:
    with pytest.raises(QueryError, match="characters"):
        SearchQuery.parse("x" * 501)
    with pytest.raises(QueryError, match="words"):
        SearchQuery.parse(" ".join(f"w{i}" for i in range(33)))
    # Repeats count once.
    assert SearchQuery.parse(" ".join(["same"] * 100)).terms == (Term(("same",), prefix=True),)


def _customer(**fields):
    values = dict(
        id=7,
        group_id=3,
        name="Wendy Warner",
        customer_number="C-1",
        email="w@ex.org",
        phone="08 12",
        mobile="070 34",
        address="Storgatan 1",
        postal_code="211 22",
        city="Malmö",
        notes="Dog!",
        active=True,
        modified=datetime(2026, 1, 2, tzinfo=UTC),
    )
    return SimpleNamespace(**(values | fields))


def test_document_fields() -> None:
    document = document_of(_customer(), ["Floor installation"])
    assert document.words == {
        "name": ["wendy", "warner"],
        "number": ["c", "1"],
        "contact": ["w", "ex", "org", "08", "12", "070", "34"],
        "place": ["storgatan", "1", "211", "22", "malmö"],
        "projects": ["floor", "installation"],
        "notes": ["dog"],
    }
    assert (document.customer_id, document.group_id, document.active) == (7, 3, True)
    assert document.version == 1767312000000


def test_tsvector_literal_weights_and_positions() -> None:
    document = document_of(_customer(notes="wendy"), [])
    literal = tsvector_literal(document)
    # A position is skipped between fields (and projects, empty here, take one too).
    assert literal.startswith("'wendy':2A,23D 'warner':3A 'c':5A '1':6A,17C 'w':8B")
    assert literal.endswith("'malmö':20C")


def test_tsvector_literal_bounds() -> None:
    document = document_of(_customer(notes="x " * 20_000), [])
    literal = tsvector_literal(document)
    x_positions = literal.split("'x':")[1].split(",")
    assert len(x_positions) == 256
    many = document_of(_customer(notes=" ".join(f"w{i}" for i in range(20_000))), [])
    assert "16383D" in tsvector_literal(many)


def test_tsquery_literal() -> None:
    assert tsquery_literal(SearchQuery.parse("anna hor")) == "'anna' | 'hor':*"
    assert tsquery_literal(SearchQuery.parse("anna b")) == "'anna' | 'b'"
    assert tsquery_literal(SearchQuery.parse("it's c-47 a.hor")) == (
        "( 'it' <-> 's' ) | ( 'c' <-> '47' ) | ( 'a' <-> 'hor':* )"
    )


def test_fts5_match_expression() -> None:
    expression = match_expression(SearchQuery.parse('name:"anna" OR c-47 hor'), group_id=5)
    assert expression == (
        'scope : "g5" AND {name number contact place projects notes} : '
        '("name anna" OR "or" OR "c 47" OR "hor"*)'
    )
