"""/api/1/document and /api/1/customer/{id}/document/{did}: HTTP in, service call, HTTP out."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response

from customer_api.auth.dependencies import CurrentPrincipal, current_principal
from customer_api.core.db import DatabaseDep, SessionDep
from customer_api.core.params import known_query_only
from customer_api.core.schemas import error_responses
from customer_api.customers import service as customers_service
from customer_api.documents import service
from customer_api.documents.schemas import DocumentRead, DocumentUpdate, UploadRead
from customer_api.documents.upload import receive_file
from customer_api.vault.dependencies import VaultDep

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


_NO_CONTENT = {200: {"description": "Done (no content)"}, **error_responses(404)}


@router.put(
    "/customer/{customer_id}/document/{document_id}",
    summary="Attach a document to a customer",
    description="Idempotent: attaching an attached document changes nothing.",
    response_class=Response,
    responses={**_NO_CONTENT, **error_responses(404, 409)},
)
async def attach_document(
    customer_id: str, document_id: str, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    customer = await customers_service.get_customer(
        session, group_id=principal.group_id, ref=customer_id
    )
    await service.attach(
        session, group_id=principal.group_id, customer=customer, document_ref=document_id
    )
    return Response(status_code=200)


@router.delete(
    "/customer/{customer_id}/document/{document_id}",
    summary="Detach a document from a customer",
    description="The document itself stays (and can be attached again).",
    response_class=Response,
    responses=_NO_CONTENT,
)
async def detach_document(
    customer_id: str, document_id: str, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    customer = await customers_service.get_customer(
        session, group_id=principal.group_id, ref=customer_id
    )
    await service.detach(
        session, group_id=principal.group_id, customer=customer, document_ref=document_id
    )
    return Response(status_code=200)
