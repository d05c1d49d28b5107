"""Resources of the /api/1 family are addressed by integer id or by UUID."""

from uuid import UUID

MAX_ID = 2**31 - 1


def parse_id_or_uuid(text: str) -> int | UUID | None:
    """The id or UUID a path segment names, or None when it can name nothing that exists."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        number = int(text) if len(text) <= 10 else MAX_ID + 1
        return number if 0 < number <= MAX_ID else None
    try:
        return UUID(text)
    except ValueError:
        return None
