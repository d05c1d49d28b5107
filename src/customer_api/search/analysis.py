"""Words of customers and of queries, cut the same way for every search backend.

Every backend indexes and queries the words this module produces, never raw user text: the
matching contract (case-insensitive whole words, the last term also as a prefix) is then the
same on SQLite, Postgres and Elasticsearch by construction, and user text can never become
query syntax, because a word holds only letters, digits and combining marks.
"""

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import regex

from customer_api.core.timestamps import to_epoch_ms

# A word starts with a letter or digit and may carry combining marks (so "हिन्दी" or a
# decomposed "é" stay one word). Everything else separates words.
_WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{N}\p{M}]*")

MAX_WORD_LENGTH = 64
"""Longer words are cut to this many characters, in documents and queries alike."""
MAX_QUERY_LENGTH = 500
"""A longer ``q`` is refused (400)."""
MAX_QUERY_WORDS = 32
"""A ``q`` with more distinct words is refused (400)."""
# What the OpenAPI document says of q: at least one character that str.split() does not treat
# as white space (Python's set, wider than a regex engine's \s).
NOT_ONLY_WHITE_SPACE = (
    r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
MIN_PREFIX_LENGTH = 2
"""The last term is also matched as a prefix when it has at least this many characters."""


def words(text: str | None) -> list[str]:
    """The words of a text: NFKC-normalised, case-folded, in order, repeats kept."""
    if not text:
        return []
    folded = unicodedata.normalize("NFKC", text).casefold()
    return [word[:MAX_WORD_LENGTH] for word in _WORD.findall(folded)]


@dataclass(frozen=True)
class SearchField:
    """A searched part of a customer, with its weight on each backend."""

    name: str
    postgres_weight: str  # setweight class A-D
    boost: float  # bm25 column weight (SQLite) and field boost (Elasticsearch)


NAME = SearchField("name", "A", 10.0)
NUMBER = SearchField("number", "A", 10.0)
CONTACT = SearchField("contact", "B", 5.0)
PLACE = SearchField("place", "C", 2.0)
PROJECTS = SearchField("projects", "C", 2.0)
NOTES = SearchField("notes", "D", 1.0)

SEARCH_FIELDS: tuple[SearchField, ...] = (NAME, NUMBER, CONTACT, PLACE, PROJECTS, NOTES)


@dataclass(frozen=True)
class SearchDocument:
    """What the search backends index for one customer."""

    customer_id: int
    group_id: int
    active: bool
    version: int
    """Elasticsearch's external version: the customer's change counter (``SearchVersion``) when
    read for Elasticsearch, else its ``modified`` in epoch ms (unused by database search)."""
    words: dict[str, list[str]]
    """The words of each search field, by field name."""

    def text(self, field: SearchField) -> str:
        return " ".join(self.words[field.name])


def document_of(customer: Any, project_names: Iterable[str]) -> SearchDocument:
    """The document of a customer (an ORM ``Customer`` or a row with the same attribute names)."""

    def joined(*values: str | None) -> list[str]:
        return [word for value in values for word in words(value)]

    return SearchDocument(
        customer_id=customer.id,
        group_id=customer.group_id,
        active=bool(customer.active),
        version=to_epoch_ms(customer.modified),
        words={
            NAME.name: joined(customer.name),
            NUMBER.name: joined(customer.customer_number),
            CONTACT.name: joined(customer.email, customer.phone, customer.mobile),
            PLACE.name: joined(customer.address, customer.postal_code, customer.city),
            PROJECTS.name: joined(*project_names),
            NOTES.name: joined(customer.notes),
        },
    )


class QueryError(ValueError):
    """The query text cannot be searched for (the message names the problem)."""


@dataclass(frozen=True)
class Term:
    """What the user typed between two spaces: one word, or a phrase of words written
    together (``C-0004711``, ``anna.berg@example.se``), whose words must follow each other."""

    words: tuple[str, ...]
    prefix: bool = False
    """Whether the last word also matches as the start of a longer word."""


@dataclass(frozen=True)
class SearchQuery:
    """Terms ORed together; the last one also as a prefix."""

    terms: tuple[Term, ...]

    @classmethod
    def parse(cls, text: str | None) -> "SearchQuery":
        """Read ``q``; raises QueryError when it is missing, blank or too long."""
        if text is None or not text.strip():
            raise QueryError("a search text is required")
        if len(text) > MAX_QUERY_LENGTH:
            raise QueryError(f"at most {MAX_QUERY_LENGTH} characters")
        typed = [found for chunk in text.split() if (found := tuple(words(chunk)))]
        if not typed:
            return cls(terms=())
        last = typed[-1]
        earlier = [Term(chunk) for chunk in dict.fromkeys(typed[:-1]) if chunk != last]
        terms = (*earlier, Term(last, prefix=len(last[-1]) >= MIN_PREFIX_LENGTH))
        if len({word for term in terms for word in term.words}) > MAX_QUERY_WORDS:
            raise QueryError(f"at most {MAX_QUERY_WORDS} different words")
        return cls(terms=terms)

    @property
    def is_empty(self) -> bool:
        """True when the text held no word at all (only punctuation, symbols or emoji)."""
        return not self.terms
