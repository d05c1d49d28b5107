"""HTTP details of serving stored bytes: byte ranges, conditional requests, file names, and
the headers that keep stored content passive."""

import re
import unicodedata
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from starlette.types import Message, Receive, Scope, Send

from customer_api.core.conditional import not_modified
from customer_api.core.errors import CustomerApiError
from customer_api.vault.storage import VaultStorage
from customer_api.vault.thumbnails import Thumbnail

# Passive types a browser may show in place. Anything else is offered as a download: HTML,
# SVG, XML and scripts would run on this origin, and PDFs can carry script too.
_SHOWN_INLINE = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "text/plain"}
)
# On every vault answer, errors included: a stored file never runs script with this origin's
# rights, and the key a browser sent as ?api_key= never leaves in a Referer.
PASSIVE_CONTENT_HEADERS = {
    "Content-Security-Policy": "sandbox",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_PASSIVE_HEADERS = [
    (name.lower().encode(), value.encode()) for name, value in PASSIVE_CONTENT_HEADERS.items()
]
_PASSIVE_NAMES = frozenset(name for name, _ in _PASSIVE_HEADERS)
# Every answer revalidates with the ETag; only the caller may keep a copy.
_CACHING = {"Cache-Control": "private, no-cache"}
_SINGLE_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
# Longer Range headers are not looked at (one range needs a few dozen characters).
_MAX_RANGE_HEADER = 256
# A position of more digits lies past the end of any file, and is not converted (int() of a
# long string is slow, and refused beyond 4300 digits).
_MAX_DIGITS = 18
_PAST_ANY_END = 10**_MAX_DIGITS
# RFC 8187 attr-char, less the letters, digits and "-._~" that quote() keeps anyway.
_ATTR_CHARS = "!#$&+^`|"
_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9 !#$&()+,.;=@\[\]^_`{}~\'-]")


class RangeNotSatisfiable(CustomerApiError):
    status_code = 416
    code = "range_not_satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(f"Range: the document has {size} bytes; the range asks for none of them.")
        self.headers = {"Content-Range": f"bytes */{size}"}


def requested_range(
    range_header: str | None, if_range: str | None, *, size: int, etag: str
) -> tuple[int, int] | None:
    """The one byte range asked for, as (start, end exclusive), or None to send everything.

    Several ranges, a malformed or overlong Range, or an If-Range that no longer matches are
    answered with the whole content, as RFC 9110 allows; a range wholly past the end is
    RangeNotSatisfiable; a suffix longer than the content is all of it.
    """
    if range_header is None or (if_range is not None and if_range.strip() != etag):
        return None
    if len(range_header) > _MAX_RANGE_HEADER:
        return None
    match = _SINGLE_RANGE.match(range_header)
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first:
        start = _position(first)
        if last and _position(last) < start:
            return None
        if start >= size:
            raise RangeNotSatisfiable(size)
        return start, (min(_position(last) + 1, size) if last else size)
    suffix = _position(last)
    if suffix == 0 or size == 0:
        raise RangeNotSatisfiable(size)
    return max(0, size - suffix), size


def _position(digits: str) -> int:
    """A byte position as sent; one too long to be in any file counts as past every end."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_DIGITS else _PAST_ANY_END


def content_disposition(file_name: str | None, mime_type: str) -> str:
    """``inline`` or ``attachment`` with the file name: an ASCII ``filename`` for old clients
    and the exact name as ``filename*`` (RFC 6266, RFC 8187)."""
    disposition = "inline" if mime_type in _SHOWN_INLINE else "attachment"
    if not file_name:
        return disposition
    ascii_name = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode()
    fallback = _FALLBACK_UNSAFE.sub("_", ascii_name).strip() or "download"
    exact = quote(file_name, safe=_ATTR_CHARS)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


class PassiveContentRoute(APIRoute):
    """A route whose every answer carries PASSIVE_CONTENT_HEADERS: 304s, 416s, HEADs and the
    error answers rendered for it (401, 404) too."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0] not in _PASSIVE_NAMES]
                message = {**message, "headers": headers + _PASSIVE_HEADERS}
            await send(message)

        await super().handle(scope, receive, send_with_headers)


async def stored_bytes(
    request: Request,
    vault: VaultStorage,
    *,
    storage_key: str,
    size: int,
    sha256: str,
    file_name: str | None,
    mime_type: str,
) -> Response:
    """The stored bytes as asked for: all, one range (206), none (304, or HEAD)."""
    etag = f'"{sha256}"'
    headers = {
        **_CACHING,
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(file_name, mime_type),
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
        return Response(status_code=status, headers=headers, media_type=mime_type)
    chunks = await vault.read_range(storage_key, start, end)
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=mime_type)


def thumbnail_answer(request: Request, thumbnail: Thumbnail) -> Response:
    """The thumbnail, or 304 when the client's copy is current."""
    headers = {**_CACHING, "ETag": thumbnail.etag}
    if not_modified(request.headers.get("if-none-match"), thumbnail.etag):
        return Response(status_code=304, headers=headers)
    return Response(thumbnail.content, media_type=thumbnail.media_type, headers=headers)
