"""/vault: a document's bytes and its thumbnail. The key may be sent as ``?api_key=`` too, so
that a browser can show them."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from starlette.types import Message, Receive, Scope, Send

from customer_api.auth.dependencies import CurrentPrincipal
from customer_api.core.conditional import not_modified
from customer_api.core.db import SessionDep
from customer_api.core.schemas import CustomerApiErrorBody, error_responses
from customer_api.documents import service as documents_service
from customer_api.vault.dependencies import ThumbnailerDep, VaultDep
from customer_api.vault.responses import (
    PASSIVE_CONTENT_HEADERS,
    content_disposition,
    requested_range,
)

_PASSIVE_HEADERS = [
    (name.lower().encode(), value.encode()) for name, value in PASSIVE_CONTENT_HEADERS.items()
]
_PASSIVE_NAMES = frozenset(name for name, _ in _PASSIVE_HEADERS)


class _VaultRoute(APIRoute):
    """A route whose every answer carries PASSIVE_CONTENT_HEADERS: 304s, 416s, HEADs and the
    error answers rendered for it (401, 404) too."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0] not in _PASSIVE_NAMES]
                message = {**message, "headers": headers + _PASSIVE_HEADERS}
            await send(message)

        await super().handle(scope, receive, send_with_headers)


router = APIRouter(prefix="/vault", tags=["vault"], route_class=_VaultRoute)

# Every answer revalidates with the ETag; only the caller may keep a copy.
_CACHING = {"Cache-Control": "private, no-cache"}

_BYTES = {"schema": {"type": "string", "format": "binary"}}
# The stored type, whatever was sniffed at upload (the document's mimeType): any media type.
# application/octet-stream (unknown content) is named too, so that a client generator reads the
# answer as bytes.
_STORED_TYPE = {"*/*": _BYTES, "application/octet-stream": _BYTES}


@router.head("/document/{document_uuid}", include_in_schema=False)
@router.get(
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
    document = await documents_service.get_stored_document(
        session, group_id=principal.group_id, ref=document_uuid
    )
    size, etag = document.size or 0, f'"{document.sha256}"'
    headers = {
        **_CACHING,
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(document.file_name, document.mime_type),
    }
    if not_modified(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    byte_range = requested_range(
        request.headers.get("range"), request.headers.get("if-range"), size=size, etag=etag
    )
    start, end = byte_range or (0, size)
    headers["Content-Length"] = str(end - start)
    status = 200
    if byte_range is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=document.mime_type)
    chunks = await vault.read_range(document.storage_key, start, end)
    return StreamingResponse(
        chunks, status_code=status, headers=headers, media_type=document.mime_type
    )


@router.get(
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
    document = await documents_service.get_document(
        session, group_id=principal.group_id, ref=document_uuid
    )
    await session.close()  # a render may be slow: it holds no database connection
    thumbnail = await thumbnailer.thumbnail_of(
        storage_key=document.storage_key, mime_type=document.mime_type
    )
    headers = {**_CACHING, "ETag": thumbnail.etag}
    if not_modified(request.headers.get("if-none-match"), thumbnail.etag):
        return Response(status_code=304, headers=headers)
    return Response(thumbnail.content, media_type=thumbnail.media_type, headers=headers)
