"""The thumbnail renderer: one file in, one JPEG out, in a process of its own.

Run as ``python -m customer_api.vault.rendering FILE MIME_TYPE CPU_SECONDS MEMORY_BYTES``; the
server starts one per render (``vault/thumbnails.py``). Uploaded files are hostile until proven
otherwise: a tiny PDF can keep PDFium busy for minutes and a small PNG can declare a canvas of
gigabytes. So the process limits itself before it opens the file (CPU time and address space,
both enforced by the kernel), dies with its parent, and its parent kills it at a wall-clock
deadline. Whatever happens here, the server only sees an exit status.

This module imports Pillow and PDFium and nothing of the server, so a render starts quickly.
"""

import contextlib
import ctypes
import io
import os
import resource
import signal
import sys
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageOps

MAX_SIDE = 512
# An image declaring more pixels than this is refused unopened, whatever memory is allowed.
MAX_PIXELS = 50_000_000
# What the interpreter with Pillow and PDFium takes before any file is opened.
BASELINE_BYTES = 64 * 1024 * 1024
# Exit statuses the server tells apart (anything else, or a signal, is a failure).
RENDERED = 0
REFUSED = 3
OUT_OF_MEMORY = 4
_PR_SET_PDEATHSIG = 1


class Refused(Exception):
    """The file is not rendered: too large to decode within the limits, or nothing to render."""


def render_thumbnail(source: Path, mime_type: str, *, decode_budget: int) -> bytes:
    """A JPEG of at most MAX_SIDE pixels a side, without the source's metadata."""
    if mime_type == "application/pdf":
        image = _render_pdf(source)
    else:
        image = _render_image(source, decode_budget)
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return _jpeg(image)


def decoded_bytes(size: tuple[int, int], mode: str) -> int:
    """The memory Pillow needs for one decoded copy (it keeps most modes as 4 bytes a pixel)."""
    width, height = size
    per_pixel = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    return width * height * per_pixel


def _render_image(source: Path, decode_budget: int) -> Image.Image:
    with Image.open(source) as image:
        if image.width * image.height > MAX_PIXELS:
            raise Refused(f"{image.width}x{image.height} pixels is more than {MAX_PIXELS}")
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale
        # The decoded image and the upright copy exist at once.
        needed = 2 * decoded_bytes(image.size, image.mode)
        if needed > decode_budget:
            raise Refused(f"decoding {image.size} {image.mode} takes {needed} bytes")
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((MAX_SIDE, MAX_SIDE))
        return upright


def _render_pdf(source: Path) -> Image.Image:
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


# Added to the server's own niceness: a render is batch work beside the requests.
RENDER_NICENESS = 10


def limit_self(cpu_seconds: int, memory_bytes: int) -> None:
    """Kernel-enforced limits: SIGXCPU past the CPU time (SIGKILL a second later), allocation
    failures past the address space, no core files; death with the parent; and a lower CPU
    priority, so that the server's requests (any group's) go before a render."""
    os.nice(RENDER_NICENESS)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere the pipe closes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def main(arguments: list[str]) -> int:
    source, mime_type, cpu_seconds, memory_bytes = arguments
    parent = os.getppid()
    limit_self(int(cpu_seconds), int(memory_bytes))
    if os.getppid() != parent:  # the server went away before the limits were in place
        return REFUSED
    budget = int(memory_bytes) - BASELINE_BYTES
    try:
        content = render_thumbnail(Path(source), mime_type, decode_budget=budget)
    except MemoryError:
        return OUT_OF_MEMORY
    except Exception as exc:  # anything Pillow or PDFium cannot read, or refuses to
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return REFUSED
    sys.stdout.buffer.write(content)
    sys.stdout.buffer.flush()
    return RENDERED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
