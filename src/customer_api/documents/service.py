"""The document logic: uploads become documents, meta data changes, and which customers a
document is attached to."""

import mimetypes
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from urllib.parse import unquote, urlsplit
from uuid import UUID

import anyio
from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from customer_api.core.db import Database
from customer_api.core.errors import Conflict, InvalidBody, NotFound
from customer_api.core.identifiers import parse_id_or_uuid
from customer_api.core.schemas import model_values
from customer_api.core.timestamps import utcnow
from customer_api.documents.models import CustomerDocument, Document
from customer_api.documents.schemas import (
    DocumentItem,
    DocumentUpdate,
    clean_file_name,
    document_json,
)
from customer_api.vault.sniffing import OCTET_STREAM, sniff_mime_type
from customer_api.vault.storage import StoredObject, VaultStorage
from customer_api.webhooks import service as webhooks


class DocumentHolder(Protocol):
    """What documents are attached to: a customer, which the customers service passes in
    (documents sit below customers and know nothing of them)."""

    id: int
    uuid: UUID
    modified: datetime
    document_links: list[CustomerDocument]


_MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


def _in_group(group_id: int) -> Select[tuple[Document]]:
    return select(Document).where(Document.group_id == group_id)


async def get_document(session: AsyncSession, *, group_id: int, ref: str) -> Document:
    """The group's document with this id or uuid; another group's answers NotFound."""
    key = parse_id_or_uuid(ref)
    document = None
    if key is not None:
        column = Document.uuid if isinstance(key, UUID) else Document.id
        document = await session.scalar(_in_group(group_id).where(column == key))
    if document is None:
        raise NotFound(f"No document with id {ref!r}.")
    return document


async def get_stored_document(session: AsyncSession, *, group_id: int, ref: str) -> Document:
    """A document whose bytes are in the vault (an external link's are not)."""
    document = await get_document(session, group_id=group_id, ref=ref)
    if document.is_link:
        raise NotFound(
            f"Document {ref!r} is a link to a file elsewhere: its content is at its contentUrl."
        )
    return document


async def record_upload(
    database: Database,
    *,
    vault: VaultStorage,
    group_id: int,
    stored: StoredObject,
    head: bytes,
    file_name: str | None,
) -> Document:
    """The committed document for a file just stored in the vault. Its own short transaction
    (the upload itself held no connection); if it fails, the file is removed again, so nothing
    is kept that no document names."""
    try:
        async with database.transaction() as session:
            return await create_upload(
                session, group_id=group_id, stored=stored, head=head, file_name=file_name
            )
    except BaseException:
        with anyio.CancelScope(shield=True):
            await vault.delete(stored.key)
        raise


async def create_upload(
    session: AsyncSession,
    *,
    group_id: int,
    stored: StoredObject,
    head: bytes,
    file_name: str | None,
) -> Document:
    """The document for a file now in the vault; its type is sniffed from its first bytes."""
    now = utcnow()
    document = Document(
        group_id=group_id,
        storage_key=stored.key,
        size=stored.size,
        sha256=stored.sha256,
        mime_type=sniff_mime_type(head),
        file_name=clean_file_name(file_name),
        internal=False,
        created=now,
        modified=now,
    )
    session.add(document)
    await session.flush()
    await _emit(session, document, "created", document_json(model_values(document)))
    return document


async def _emit(session: AsyncSession, document: Document, change: str, data: dict) -> None:
    await webhooks.emit(
        session,
        group_id=document.group_id,
        channel="document",
        change=change,
        resource_id=document.id,
        data=data,
    )


def _link_data(customer: DocumentHolder, document: Document) -> dict:
    return {
        "customer": {"id": customer.id, "uuid": str(customer.uuid)},
        "document": document_json(model_values(document)),
    }


async def update_document(
    session: AsyncSession, *, group_id: int, ref: str, data: DocumentUpdate
) -> Document:
    document = await get_document(session, group_id=group_id, ref=ref)
    for name, value in data.given_fields().items():
        setattr(document, name, value)
    document.modified = utcnow()
    await session.flush()
    await _emit(session, document, "updated", document_json(model_values(document)))
    return document


async def set_customer_documents(
    session: AsyncSession, *, group_id: int, customer: DocumentHolder, items: Sequence[DocumentItem]
) -> None:
    """Make the customer's documents the given list, in its order: references to the group's
    documents (by uuid or id) and new links to files elsewhere. Unlisted ones are detached."""
    referenced = await _referenced_documents(session, group_id=group_id, items=items)
    current = {link.document_id: link for link in customer.document_links}
    wanted: list[CustomerDocument] = []
    seen: set[Document] = set()
    for index, item in enumerate(items):
        if item.is_reference:
            document = _pick(referenced, item, index)
        else:
            document = _new_link(item, index, group_id)
            session.add(document)
        if document in seen:
            raise InvalidBody(f"documents[{index}]: the same document is listed twice.")
        seen.add(document)
        link = current.get(document.id) if document.id else None
        link = link or CustomerDocument(document=document)
        link.position = index
        wanted.append(link)
    customer.document_links = wanted


async def attach(
    session: AsyncSession, *, group_id: int, customer: DocumentHolder, document_ref: str
) -> None:
    """Attach a document to the customer (at the end of its list); attaching twice is a no-op."""
    document = await get_document(session, group_id=group_id, ref=document_ref)
    links = customer.document_links
    if any(link.document_id == document.id for link in links):
        return
    position = max((link.position for link in links), default=-1) + 1
    links.append(CustomerDocument(document=document, position=position))
    customer.modified = utcnow()
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("The customer changed meanwhile (attached or deleted); retry.") from exc
    await _emit(session, document, "attached", _link_data(customer, document))


async def detach(
    session: AsyncSession, *, group_id: int, customer: DocumentHolder, document_ref: str
) -> None:
    """Detach a document from the customer; detaching one that is not attached is a no-op.

    The document itself stays (it can be attached again), and so does its stored file.
    """
    document = await get_document(session, group_id=group_id, ref=document_ref)
    remaining = [link for link in customer.document_links if link.document_id != document.id]
    if len(remaining) != len(customer.document_links):
        customer.document_links = remaining
        customer.modified = utcnow()
        await session.flush()
        await _emit(session, document, "detached", _link_data(customer, document))


async def _referenced_documents(
    session: AsyncSession, *, group_id: int, items: Sequence[DocumentItem]
) -> list[Document]:
    """The group's documents the items refer to, in one statement."""
    ids = [item.id for item in items if item.id is not None]
    uuids = [item.uuid for item in items if item.uuid is not None]
    if not ids and not uuids:
        return []
    statement = _in_group(group_id).where(or_(Document.id.in_(ids), Document.uuid.in_(uuids)))
    with session.no_autoflush:  # the customer's pending changes are flushed by its service
        return list((await session.scalars(statement)).all())


def _pick(documents: list[Document], item: DocumentItem, index: int) -> Document:
    """The document an item refers to; by uuid when it gives one, else by id."""
    if item.uuid is not None:
        found = next((d for d in documents if d.uuid == item.uuid), None)
        field, value = "uuid", str(item.uuid)
    else:
        found = next((d for d in documents if d.id == item.id), None)
        field, value = "id", str(item.id)
    if found is None:
        raise NotFound(f"documents[{index}].{field}: no document {value!r}.")
    return found


def _new_link(item: DocumentItem, index: int, group_id: int) -> Document:
    """A document for a file elsewhere. Its URL is recorded, never fetched."""
    where = f"documents[{index}]"
    if item.content_url is None:
        raise InvalidBody(
            f"{where}: give a uuid (an existing document) or a contentUrl (a link to a file)."
        )
    content_url = _web_url(item.content_url, f"{where}.contentUrl")
    thumb_url = _web_url(item.thumb_url, f"{where}.thumbUrl") if item.thumb_url else None
    file_name = item.file_name or clean_file_name(unquote(urlsplit(content_url).path))
    now = utcnow()
    return Document(
        group_id=group_id,
        external_url=content_url,
        thumb_url=thumb_url,
        file_name=file_name,
        mime_type=_link_mime_type(item, file_name, f"{where}.mimeType"),
        description=item.description,
        internal=bool(item.internal),
        created=now,
        modified=now,
    )


def _web_url(text: str, where: str) -> str:
    """An absolute http(s) URL without user info; other schemes (javascript:, file:, data:) are
    refused."""
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidBody(f"{where}: must be an absolute http or https URL.")
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise InvalidBody(f"{where}: must not contain white space or control characters.")
    if "@" in parts.netloc:
        # "https://files.example@evil.example/" leads to evil.example, whatever it shows first.
        raise InvalidBody(f"{where}: must not carry a user name or password (user@host).")
    return text


def _link_mime_type(item: DocumentItem, file_name: str | None, where: str) -> str:
    """The client's mimeType (it picks the icon), else a guess from the file name."""
    if item.mime_type:
        mime_type = item.mime_type.split(";", 1)[0].strip().lower()
        if not _MIME_TYPE.match(mime_type):
            raise InvalidBody(f"{where}: not a mime type such as application/pdf.")
        return mime_type
    guessed = mimetypes.guess_type(file_name or "", strict=False)[0]
    return guessed or OCTET_STREAM
