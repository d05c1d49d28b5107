"""/api/1/document, and a document's bytes and thumbnail under /vault (the key may be sent
as ``?api_key=`` too, so that a browser can show them): HTTP in, service call, HTTP out."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response

from customer_api.auth.dependencies import CurrentPrincipal, current_principal
from customer_api.core.db import DatabaseDep, SessionDep
from customer_api.core.params import known_query_only
from customer_api.core.schemas import CustomerApiErrorBody, error_responses
from customer_api.documents import service
from customer_api.documents.schemas import DocumentRead, DocumentUpdate, UploadRead
from customer_api.vault.dependencies import ThumbnailerDep, VaultDep
from customer_api.vault.responses import PassiveContentRoute, stored_bytes, thumbnail_answer
from customer_api.vault.upload import receive_file

router = APIRouter(
    prefix="/api/1",
    tags=["documents"],
    dependencies=[Depends(current_principal), Depends(known_query_only)],
    responses=error_responses(400),  # an unknown query parameter, on every operation
    # A JSON body sent without any Content-Type is read as JSON, as in /api/v1.0.
    strict_content_type=False,
)
# The one route that takes a file upload (and the upload cap rather than the JSON one).
UPLOAD_PATH = "/api/1/document/content"

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "additionalProperties": False,
                }
            }
        },
    }
}

DocumentUpdateBody = Annotated[
    DocumentUpdate,
    Body(
        openapi_examples={
            "documented": {
                "summary": "Describe a document and mark it internal",
                "value": {"description": "Top secret map to customer site", "internal": True},
            }
        }
    ),
]


@router.post(
    UPLOAD_PATH.removeprefix(router.prefix),
    summary="Upload document content",
    description="A multipart/form-data upload with the file in the part `file` "
    "(`curl -F file=@myimage.jpg`). The mimeType is sniffed from the content. Attach the "
    "document to a customer with PUT /customer/{id}/document/{did}.",
    response_model=UploadRead,
    responses=error_responses(406, 413),
    openapi_extra=_UPLOAD_BODY,
)
async def upload_content(
    request: Request,
    principal: CurrentPrincipal,
    database: DatabaseDep,
    vault: VaultDep,
) -> UploadRead:
    # The body streams in before any database work: a slow upload holds no connection.
    received = await receive_file(
        request, vault=vault, max_bytes=request.app.state.settings.max_upload_bytes
    )
    document = await service.record_upload(
        database,
        vault=vault,
        group_id=principal.group_id,
        stored=received.stored,
        head=received.head,
        file_name=received.file_name,
    )
    return UploadRead(document=DocumentRead.of(document))


@router.put(
    "/document/{document_id}",
    summary="Update document meta data",
    description="`{document_id}` is the id or the UUID. Changes description, fileName and "
    "internal; fields left out stay.",
    response_model=DocumentRead,
    responses=error_responses(404, 406),
)
async def update_document(
    document_id: str, body: DocumentUpdateBody, principal: CurrentPrincipal, session: SessionDep
) -> DocumentRead:
    document = await service.update_document(
        session, group_id=principal.group_id, ref=document_id, data=body
    )
    return DocumentRead.of(document)


# A document's stored bytes and its thumbnail, kept in the vault.
content_router = APIRouter(prefix="/vault", tags=["vault"], route_class=PassiveContentRoute)

_BYTES = {"schema": {"type": "string", "format": "binary"}}
# The stored type, whatever was sniffed at upload (the document's mimeType): any media type.
# application/octet-stream (unknown content) is named too, so that a client generator reads the
# answer as bytes.
_STORED_TYPE = {"*/*": _BYTES, "application/octet-stream": _BYTES}


@content_router.head("/document/{document_uuid}", include_in_schema=False)
@content_router.get(
    "/document/{document_uuid}",
    summary="Get a document's content",
    description="The stored bytes with their sniffed Content-Type. Supports `Range` (one range: "
    "206) and `If-None-Match` (304).",
    response_class=Response,
    responses={
        200: {
            "description": "The content, as the document's mimeType (image/jpeg, "
            "application/pdf, text/plain, ...; application/octet-stream when unknown)",
            "content": _STORED_TYPE,
        },
        206: {"description": "The requested byte range", "content": _STORED_TYPE},
        304: {"description": "The client's copy is current"},
        416: {
            "model": CustomerApiErrorBody,
            "description": "The range lies past the end of the content",
        },
        **error_responses(404),
    },
)
async def document_content(
    document_uuid: str,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    vault: VaultDep,
) -> Response:
    document = await service.get_stored_document(
        session, group_id=principal.group_id, ref=document_uuid
    )
    return await stored_bytes(
        request,
        vault,
        storage_key=document.storage_key,
        size=document.size or 0,
        sha256=document.sha256,
        file_name=document.file_name,
        mime_type=document.mime_type,
    )


@content_router.get(
    "/thumbnail/{document_uuid}",
    summary="Get a document's thumbnail",
    description="A JPEG of at most 512 pixels a side for images and PDFs (made once, then kept); "
    "a PNG icon for the document's kind otherwise (and for links: their URL is never fetched).",
    response_class=Response,
    responses={
        200: {
            "description": "The thumbnail",
            "content": {"image/jpeg": _BYTES, "image/png": _BYTES},
        },
        304: {"description": "The client's copy is current"},
        **error_responses(404),
    },
)
async def document_thumbnail(
    document_uuid: str,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    thumbnailer: ThumbnailerDep,
) -> Response:
    document = await service.get_document(session, group_id=principal.group_id, ref=document_uuid)
    await session.close()  # a render may be slow: it holds no database connection
    thumbnail = await thumbnailer.thumbnail_of(
        storage_key=document.storage_key, mime_type=document.mime_type
    )
    return thumbnail_answer(request, thumbnail)
