"""A hand-written ceiling for three /api/1 request paths: Starlette, asyncpg and orjson.

    CEILING_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/scratch \\
        uvicorn ceiling_server:app --app-dir bench --no-access-log --loop uvloop --http httptools

It does the work the server does for these paths, on the same Postgres database and rows, as
directly as it can be done, and answers the same JSON documents:

- ``GET /api/1/customer/{id}`` (integer id or UUID): the customer with its projects and its
  documents, built by Postgres in one statement (``json_build_object``/``json_agg``) and sent
  as it comes;
- ``GET /api/1/customer`` (``limit``, ``offset``, ``inactive``): a page of the group's
  customers in id order with their projects, one statement, likewise;
- ``POST /api/1/customer``: the customer, its inline projects and its search row
  (``customer_search``, the same tsvector the server writes) inserted by one statement (so in
  one transaction), answering the created customer with ``documents: []``.

The ``API-Key`` header is resolved as the server does (the SHA-256 hex of the key in
``api_keys``, not revoked) and a found key is kept in a plain dict: nothing can be faster. A
repeated ``customerNumber`` is left to the unique constraint (409). Nothing else is checked or
offered: no other key forms, no request ids, metrics, logs or body validation beyond what the
statements need. It is the ceiling a framework-based server can be measured against, not a
server.
"""

import contextlib
import hashlib
import os
import unicodedata
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
import orjson
import regex
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DATABASE_URL = os.environ.get(
    "CEILING_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
POOL_SIZE = int(os.environ.get("CEILING_POOL_SIZE", "10"))
MAX_PAGE = 1000
MAX_ID = 2**31 - 1
JSON = "application/json"


def _ms(column: str) -> str:
    """Epoch milliseconds of a timestamptz column, exact (the server floors, as this does)."""
    return f"floor(extract(epoch FROM {column}) * 1000)::bigint"


_PROJECTS = """coalesce((
    SELECT json_agg(json_build_object('id', p.id, 'uuid', p.uuid, 'name', p.name,
                                      'active', p.active) ORDER BY p.id)
    FROM customer_projects p WHERE p.customer_id = c.id), '[]'::json)"""

_DOCUMENTS = f"""coalesce((
    SELECT json_agg(json_build_object(
        'uuid', d.uuid,
        'thumbUrl', coalesce(d.thumb_url, '/vault/thumbnail/' || d.uuid),
        'size', d.size,
        'mimeType', d.mime_type,
        'lastModified', {_ms("d.modified")},
        'contentUrl', coalesce(d.external_url, '/vault/document/' || d.uuid),
        'creationTimeStamp', {_ms("d.created")},
        'creatorId', NULL,
        'description', d.description,
        'fileName', d.file_name,
        'groupId', d.group_id,
        'id', d.id,
        'internal', d.internal) ORDER BY cd.position)
    FROM customer_documents cd JOIN documents d ON d.id = cd.document_id
    WHERE cd.customer_id = c.id), '[]'::json)"""


def _customer_object(projects: str, documents: str | None) -> str:
    """The Customer object in the server's key order (documents last, in the detail only)."""
    return f"""json_build_object(
        'id', c.id, 'uuid', c.uuid, 'name', c.name, 'customerNumber', c.customer_number,
        'organizationNumber', c.organization_number, 'email', c.email, 'phone', c.phone,
        'mobile', c.mobile, 'address', c.address, 'postalCode', c.postal_code, 'city', c.city,
        'country', c.country, 'latitude', c.latitude, 'longitude', c.longitude,
        'notes', c.notes, 'organization', c.organization, 'active', c.active,
        'customerProjects', {projects},
        'created', {_ms("c.created")}, 'modified', {_ms("c.modified")}
        {f", 'documents', {documents}" if documents else ""})"""


KEY_SQL = "SELECT group_id FROM api_keys WHERE key_hash = $1 AND revoked IS NULL"
DETAIL_SQL = "SELECT {obj}::text FROM customers c WHERE c.group_id = $1 AND c.{column} = $2"
DETAIL_BY_ID_SQL = DETAIL_SQL.format(obj=_customer_object(_PROJECTS, _DOCUMENTS), column="id")
DETAIL_BY_UUID_SQL = DETAIL_SQL.format(obj=_customer_object(_PROJECTS, _DOCUMENTS), column="uuid")
LIST_SQL = f"""SELECT json_agg({_customer_object(_PROJECTS, None)} ORDER BY c.id)::text
    FROM (SELECT * FROM customers WHERE group_id = $1 AND (active OR $2)
          ORDER BY id LIMIT $3 OFFSET $4) c"""

# Writable scalar fields: JSON name, column.
FIELDS = (
    ("name", "name"),
    ("customerNumber", "customer_number"),
    ("organizationNumber", "organization_number"),
    ("email", "email"),
    ("phone", "phone"),
    ("mobile", "mobile"),
    ("address", "address"),
    ("postalCode", "postal_code"),
    ("city", "city"),
    ("country", "country"),
    ("latitude", "latitude"),
    ("longitude", "longitude"),
    ("notes", "notes"),
    ("organization", "organization"),
)
_COLUMNS = ", ".join(column for _, column in FIELDS)
_PLACEHOLDERS = ", ".join(f"${n}" for n in range(2, len(FIELDS) + 2))
_N = len(FIELDS) + 2  # the next placeholder after group_id ($1) and the fields
CREATE_SQL = f"""
WITH c AS (
    INSERT INTO customers (uuid, group_id, {_COLUMNS}, active, created, modified)
    VALUES (gen_random_uuid(), $1, {_PLACEHOLDERS}, ${_N},
            date_trunc('milliseconds', now()), date_trunc('milliseconds', now()))
    RETURNING *
), p AS (
    INSERT INTO customer_projects (uuid, customer_id, name, active)
    SELECT gen_random_uuid(), c.id, item.name, true
    FROM c, unnest(${_N + 1}::text[]) WITH ORDINALITY AS item(name, position)
    ORDER BY item.position
    RETURNING *
), s AS (
    INSERT INTO customer_search (customer_id, group_id, active, document)
    SELECT c.id, c.group_id, c.active, ${_N + 2}::tsvector FROM c
)
SELECT {
    _customer_object(
        '''coalesce((SELECT json_agg(json_build_object('id', p.id, 'uuid', p.uuid,
               'name', p.name, 'active', p.active) ORDER BY p.id) FROM p), '[]'::json)''',
        "'[]'::json",
    )
}::text FROM c"""


# --- the search document, cut exactly as customer_api.search.analysis and postgres_fts do ---

_WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{N}\p{M}]*")
MAX_WORD_LENGTH = 64
MAX_POSITION = 16383
MAX_POSITIONS_PER_WORD = 256


def _words(*texts: str | None) -> list[str]:
    found: list[str] = []
    for text in texts:
        if text:
            folded = unicodedata.normalize("NFKC", text).casefold()
            found.extend(word[:MAX_WORD_LENGTH] for word in _WORD.findall(folded))
    return found


def tsvector_literal(values: dict[str, Any], project_names: list[str]) -> str:
    fields = (
        (_words(values["name"]), "A"),
        (_words(values["customer_number"]), "A"),
        (_words(values["email"], values["phone"], values["mobile"]), "B"),
        (_words(values["address"], values["postal_code"], values["city"]), "C"),
        (_words(*project_names), "C"),
        (_words(values["notes"]), "D"),
    )
    positions: dict[str, list[str]] = {}
    position = 0
    for words, weight in fields:
        position = min(position + 1, MAX_POSITION)
        for word in words:
            position = min(position + 1, MAX_POSITION)
            kept = positions.setdefault(word, [])
            if len(kept) < MAX_POSITIONS_PER_WORD:
                kept.append(f"{position}{weight}")
    return " ".join(
        "'" + word.replace("\\", "\\\\").replace("'", "''") + "':" + ",".join(kept)
        for word, kept in positions.items()
    )


# --- HTTP ---


def error(status: int, code: str, message: str) -> Response:
    body = orjson.dumps({"success": False, "error": code, "message": message})
    return Response(body, status, media_type=JSON)


UNAUTHORIZED = error(401, "unauthorized", "The API key is not valid or has been revoked.")
_groups: dict[str, int] = {}


async def group_of(request: Request) -> int | None:
    key = request.headers.get("api-key")
    if key is None:
        return None
    group_id = _groups.get(key)
    if group_id is None:
        digest = hashlib.sha256(key.strip().encode("utf-8", "surrogatepass")).hexdigest()
        group_id = await request.app.state.pool.fetchval(KEY_SQL, digest)
        if group_id is not None:
            _groups[key] = group_id
    return group_id


async def get_customer(request: Request) -> Response:
    group_id = await group_of(request)
    if group_id is None:
        return UNAUTHORIZED
    ref = request.path_params["ref"].strip()
    if ref.isascii() and ref.isdigit():
        key: int | UUID = int(ref) if len(ref) <= 10 else 0
        sql = DETAIL_BY_ID_SQL
        if not 0 < key <= MAX_ID:
            return error(404, "not_found", f"No customer with id {ref!r}.")
    else:
        try:
            key, sql = UUID(ref), DETAIL_BY_UUID_SQL
        except ValueError:
            return error(404, "not_found", f"No customer with id {ref!r}.")
    body = await request.app.state.pool.fetchval(sql, group_id, key)
    if body is None:
        return error(404, "not_found", f"No customer with id {ref!r}.")
    return Response(body, media_type=JSON)


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("false", "0")


async def list_customers(request: Request) -> Response:
    group_id = await group_of(request)
    if group_id is None:
        return UNAUTHORIZED
    params = request.query_params
    try:
        limit = int(params.get("limit", MAX_PAGE))
        offset = int(params.get("offset", 0))
    except ValueError:
        return error(400, "invalid_parameter", "limit and offset are integers.")
    if not (0 <= limit <= MAX_PAGE and 0 <= offset <= 2**53):
        return error(400, "invalid_parameter", "limit or offset is out of range.")
    inactive = _flag(params.get("inactive"))
    body = await request.app.state.pool.fetchval(LIST_SQL, group_id, inactive, limit, offset)
    if body is None:
        return Response(status_code=204)
    return Response(body, media_type=JSON)


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field}: must be a string")
    return value.strip()


def _number(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field}: must be a number")
    return float(value)


async def create_customer(request: Request) -> Response:
    group_id = await group_of(request)
    if group_id is None:
        return UNAUTHORIZED
    try:
        data = orjson.loads(await request.body())
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        values = {
            column: _number(data.get(field), field)
            if field in ("latitude", "longitude")
            else _text(data.get(field), field)
            for field, column in FIELDS
        }
        if not values["name"]:
            raise ValueError("name: required")
        if values["customer_number"] == "":
            values["customer_number"] = None
        projects = [
            _text(item["name"], "customerProjects") for item in data.get("customerProjects") or ()
        ]
        if not all(projects):
            raise ValueError("customerProjects: every project needs a name")
        active = data.get("active", True)
        if not isinstance(active, bool):
            raise ValueError("active: must be true or false")
    except (ValueError, TypeError, KeyError) as exc:
        return error(406, "invalid_body", str(exc))
    document = tsvector_literal(values, projects)
    try:
        body = await request.app.state.pool.fetchval(
            CREATE_SQL, group_id, *values.values(), active, projects, document
        )
    except asyncpg.UniqueViolationError:
        return error(409, "conflict", "customerNumber or uuid: already used by another customer.")
    return Response(body, media_type=JSON)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with asyncpg.create_pool(DATABASE_URL, min_size=POOL_SIZE, max_size=POOL_SIZE) as pool:
        app.state.pool = pool
        yield


async def health(_: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=JSON)


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/api/1/customer", list_customers, methods=["GET"]),
        Route("/api/1/customer", create_customer, methods=["POST"]),
        Route("/api/1/customer/{ref}", get_customer, methods=["GET"]),
    ],
    lifespan=lifespan,
)
