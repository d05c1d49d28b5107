"""What a file is, told from its first bytes: never from the name or type a client claims."""

import filetype

# filetype reads at most this many bytes; the text check looks at as many.
SNIFF_BYTES = 8192
OCTET_STREAM = "application/octet-stream"
PLAIN_TEXT = "text/plain"

# Control characters that plain text may contain: tab, line feed, form feed, carriage return,
# escape (terminal colours in logs) and backspace.
_TEXT_CONTROLS = frozenset(b"\t\n\f\r\x1b\b")
_BINARY_BYTES = bytes(sorted(frozenset(range(32)) - _TEXT_CONTROLS | {0x7F}))


def sniff_mime_type(head: bytes) -> str:
    """The mime type of a file whose first SNIFF_BYTES (or fewer) bytes are ``head``."""
    head = head[:SNIFF_BYTES]
    kind = filetype.guess(head) if head else None
    if kind is not None:
        return kind.mime
    return PLAIN_TEXT if _looks_like_text(head) else OCTET_STREAM


def _looks_like_text(head: bytes) -> bool:
    """UTF-8 (ASCII included) without binary control characters."""
    if not head or len(head.translate(None, _BINARY_BYTES)) != len(head):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The sample may end in the middle of a multi-byte character.
        return exc.reason == "unexpected end of data" and exc.start >= len(head) - 3
    return True
