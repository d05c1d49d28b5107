"""Reading a multipart/form-data upload as it arrives.

FastAPI's ``UploadFile`` would spool the whole body before the endpoint runs; here the body is
fed chunk by chunk to python-multipart's streaming parser, and the bytes of the part named
``file`` go straight into a vault writer. Memory stays bounded whatever the file's size, and the
size limit is enforced while the bytes arrive: an oversize, malformed or cut-off upload is
discarded with nothing kept.
"""

from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from customer_api.core.errors import InvalidBody, PayloadTooLarge
from customer_api.vault.sniffing import SNIFF_BYTES
from customer_api.vault.storage import StoredObject, VaultStorage

FILE_PART = "file"
# Room for the multipart framing around the file: boundaries and part headers.
FRAMING_ALLOWANCE = 64 * 1024
USAGE = "send the file as multipart/form-data in a part named file (curl -F file=@name)"


@dataclass(frozen=True)
class ReceivedFile:
    stored: StoredObject
    head: bytes
    file_name: str | None


async def receive_file(request: Request, *, vault: VaultStorage, max_bytes: int) -> ReceivedFile:
    """Stream the request's ``file`` part into the vault; raises InvalidBody (406) or
    PayloadTooLarge (413), in which case nothing is kept."""
    boundary = _boundary(request.headers.get("content-type"))
    limit = max_bytes + FRAMING_ALLOWANCE
    if _declared_length(request) > limit:
        raise _too_large(max_bytes)
    parts = _FilePart(max_bytes)
    try:
        parser = MultipartParser(boundary, parts.callbacks())
    except FormParserError as exc:
        raise InvalidBody(f"body: {exc}") from exc
    async with vault.upload() as writer:
        received = 0
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise _too_large(max_bytes)
                parser.write(chunk)
                if parts.pending:
                    await writer.write(b"".join(parts.pending))
                    parts.pending.clear()
        except FormParserError as exc:
            raise InvalidBody(f"body: malformed multipart ({exc}); {USAGE}.") from exc
        except ClientDisconnect as exc:
            raise InvalidBody("body: the client went away before the upload was complete.") from exc
        if not parts.ended:
            raise InvalidBody("body: the multipart body ended before its closing boundary.")
        if not parts.found:
            raise InvalidBody(f"file: missing; {USAGE}.")
        stored = await writer.commit()
    return ReceivedFile(stored=stored, head=bytes(parts.head), file_name=parts.file_name)


def _boundary(content_type: str | None) -> bytes:
    media_type, options = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise InvalidBody(f"body: not multipart/form-data; {USAGE}.")
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidBody("body: the multipart/form-data Content-Type has no boundary.")
    return boundary


def _declared_length(request: Request) -> int:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() and len(declared) < 20 else 0


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"file: larger than the upload limit of {max_bytes} bytes.")


def _text(raw: bytes) -> str:
    """Header parameters arrive as raw bytes: browsers and curl send UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _form_file_name(raw: bytes) -> str:
    """Browsers and curl send a file name's '"', CR and LF as %22, %0D and %0A (the HTML
    standard's multipart encoding); undo that, so the name is the user's."""
    for escaped, plain in ((b"%22", b'"'), (b"%0D", b"\r"), (b"%0A", b"\n")):
        raw = raw.replace(escaped, plain)
    return _text(raw)


class _FilePart:
    """The parser's callbacks: collect the ``file`` part's bytes and refuse anything else."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.pending: list[bytes] = []
        self.head = bytearray()
        self.size = 0
        self.file_name: str | None = None
        self.found = False
        self.ended = False
        self._in_file = False
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._disposition)
        if disposition != b"form-data" or b"name" not in options:
            raise InvalidBody(
                "body: every part needs a 'Content-Disposition: form-data; name=...' header."
            )
        name = _text(options[b"name"])
        if name != FILE_PART:
            raise InvalidBody(f"{name[:60]}: unknown part; {USAGE}.")
        if self.found:
            raise InvalidBody("file: only one file per upload.")
        self.found = True
        self._in_file = True
        raw_name = options.get(b"filename")
        self.file_name = _form_file_name(raw_name) if raw_name is not None else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file:
            return
        piece = data[start:end]
        self.size += len(piece)
        if self.size > self.max_bytes:
            raise _too_large(self.max_bytes)
        if len(self.head) < SNIFF_BYTES:
            self.head += piece[: SNIFF_BYTES - len(self.head)]
        self.pending.append(piece)

    def on_part_end(self) -> None:
        self._in_file = False

    def on_end(self) -> None:
        self.ended = True
