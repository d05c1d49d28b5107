"""Real files, made with Pillow: JPEG (optionally with an EXIF orientation), PNG, PDF, and a PNG
whose header declares a huge image (a decompression bomb)."""

import io
import struct
import zlib

from PIL import Image, ImageDraw

EXIF_ORIENTATION = 0x0112


def jpeg(size: tuple[int, int] = (800, 600), colour: str = "red", orientation: int | None = None):
    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 4, size[1] // 4), fill="blue")
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # metadata that must not reach a thumbnail
    if orientation is not None:
        exif[EXIF_ORIENTATION] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80, exif=exif)
    return buffer.getvalue()


def png(size: tuple[int, int] = (300, 200), transparent: bool = False) -> bytes:
    image = Image.new("RGBA", size, (0, 128, 0, 0 if transparent else 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def pdf(colour: str = "blue", size: tuple[int, int] = (595, 842)) -> bytes:
    """A one-page PDF (A4 at 72 dpi) filled with a colour."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PDF")
    return buffer.getvalue()


def decompression_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A small, well-formed PNG whose header declares width x height pixels."""
    small = png((1, 1))
    ihdr_start = 8  # after the PNG signature: length (4), b"IHDR" (4), data (13), CRC (4)
    data = bytearray(small[ihdr_start + 8 : ihdr_start + 8 + 13])
    data[0:8] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(data)))
    return small[: ihdr_start + 8] + bytes(data) + crc + small[ihdr_start + 8 + 13 + 4 :]


def opened(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image
