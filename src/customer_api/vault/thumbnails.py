"""Thumbnails: images scaled with Pillow, a PDF's first page rendered with PDFium, and for
everything else (and anything that cannot be rendered safely) an icon for its kind.

A rendered thumbnail is made once and kept in the vault beside the file it shows. The work is
CPU-bound, so it runs in worker threads, never on the event loop.
"""

import functools
import hashlib
import io
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFont, ImageOps

from customer_api.vault.storage import VaultStorage, derived_key

logger = logging.getLogger("customer_api.vault")

MAX_SIDE = 512
# An image declaring more pixels than this is refused unopened: decoding it could take
# gigabytes of memory (a "decompression bomb" is a small file declaring a huge image).
MAX_PIXELS = 50_000_000
JPEG = "image/jpeg"
PNG = "image/png"
ICON_SIDE = 256

# PDFium may not be called from two threads at once, not even for different documents.
_pdfium_lock = threading.Lock()
# At most two renderings at a time, so that thumbnails cannot take every core.
_renderers = threading.BoundedSemaphore(2)


@dataclass(frozen=True)
class Thumbnail:
    content: bytes
    media_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.content).hexdigest()[:32] + '"'


class Refused(Exception):
    """The file is not rendered (too many pixels, or nothing to render)."""


async def thumbnail_of(
    vault: VaultStorage, *, storage_key: str | None, mime_type: str
) -> Thumbnail:
    """The thumbnail of a stored file (made and kept on first use), or the icon for its kind."""
    if storage_key is None or not is_renderable(mime_type):
        return await anyio.to_thread.run_sync(icon_for, mime_type)
    kept_key = derived_key(storage_key, "thumbnails", ".jpg")
    kept = await vault.read_bytes(kept_key)
    if kept is not None:
        return Thumbnail(kept, JPEG)
    source = await vault.local_path(storage_key)
    try:
        content = await anyio.to_thread.run_sync(render_thumbnail, source, mime_type)
    except Exception as exc:  # a file Pillow or PDFium cannot read, or refuses to
        logger.info("no thumbnail for %s (%s): %s", storage_key, mime_type, exc)
        return await anyio.to_thread.run_sync(icon_for, mime_type)
    await vault.put_bytes(kept_key, content)
    return Thumbnail(content, JPEG)


def is_renderable(mime_type: str) -> bool:
    return mime_type.startswith("image/") or mime_type == "application/pdf"


def render_thumbnail(source: Path, mime_type: str) -> bytes:
    """A JPEG of at most MAX_SIDE pixels a side, without the source's metadata."""
    with _renderers:
        image = _render_pdf(source) if mime_type == "application/pdf" else _render_image(source)
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        return _jpeg(image)


def _render_image(source: Path) -> Image.Image:
    with Image.open(source) as image:
        if image.width * image.height > MAX_PIXELS:
            raise Refused(f"{image.width}x{image.height} pixels is more than {MAX_PIXELS}")
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((MAX_SIDE, MAX_SIDE))
        return upright


def _render_pdf(source: Path) -> Image.Image:
    with _pdfium_lock:
        document = pdfium.PdfDocument(source)
        try:
            if len(document) == 0:
                raise Refused("the PDF has no pages")
            page = document[0]
            width, height = page.get_size()
            if min(width, height) <= 0:
                raise Refused("the first page has no area")
            bitmap = page.render(scale=MAX_SIDE / max(width, height))
            return bitmap.to_pil().convert("RGB")  # a copy, independent of PDFium's buffer
        finally:
            document.close()


def _jpeg(image: Image.Image) -> bytes:
    """Flatten transparency onto white and encode; nothing of the source's metadata is kept."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, optimize=True)
    return buffer.getvalue()


# kind: (label, colour), and how mime types map to kinds.
_KINDS: dict[str, tuple[str, str]] = {
    "image": ("IMG", "#00897b"),
    "pdf": ("PDF", "#c62828"),
    "text": ("TXT", "#546e7a"),
    "document": ("DOC", "#1565c0"),
    "spreadsheet": ("XLS", "#2e7d32"),
    "presentation": ("PPT", "#ef6c00"),
    "archive": ("ZIP", "#6d4c41"),
    "audio": ("AUD", "#6a1b9a"),
    "video": ("VID", "#ad1457"),
    "file": ("FILE", "#757575"),
}
_SUBTYPE_HINTS = (
    ("pdf", "pdf"),
    ("spreadsheet", "spreadsheet"),
    ("excel", "spreadsheet"),
    ("csv", "spreadsheet"),
    ("presentation", "presentation"),
    ("powerpoint", "presentation"),
    ("wordprocessing", "document"),
    ("msword", "document"),
    ("opendocument.text", "document"),
    ("rtf", "document"),
    ("zip", "archive"),
    ("tar", "archive"),
    ("gzip", "archive"),
    ("bzip", "archive"),
    ("xz", "archive"),
    ("7z", "archive"),
    ("rar", "archive"),
)


def kind_of(mime_type: str) -> str:
    """The icon kind of a mime type: image, pdf, text, document, ..., or file."""
    major, _, minor = mime_type.lower().partition("/")
    for hint, kind in _SUBTYPE_HINTS:
        if hint in minor:
            return kind
    return major if major in ("image", "text", "audio", "video") else "file"


def icon_for(mime_type: str) -> Thumbnail:
    return Thumbnail(_icon(kind_of(mime_type)), PNG)


@functools.cache
def _icon(kind: str) -> bytes:
    """A sheet of paper with a folded corner and a coloured label; drawn once per kind."""
    label, colour = _KINDS[kind]
    image = Image.new("RGBA", (ICON_SIDE, ICON_SIDE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    left, top, right, bottom, fold = 48, 16, 208, 240, 48
    sheet = [(left, top), (right - fold, top), (right, top + fold), (right, bottom), (left, bottom)]
    draw.polygon(sheet, fill="white", outline="#9e9e9e", width=4)
    draw.polygon(
        [(right - fold, top), (right - fold, top + fold), (right, top + fold)],
        fill="#e0e0e0",
        outline="#9e9e9e",
        width=4,
    )
    draw.rounded_rectangle((24, 132, 232, 200), radius=10, fill=colour)
    font = ImageFont.load_default(size=44)
    draw.text((ICON_SIDE / 2, 166), label, fill="white", font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
