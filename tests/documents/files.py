"""Real files, made with Pillow: JPEG (optionally with an EXIF orientation), PNG, PDF, and a PNG
whose header declares a huge image (a decompression bomb).

And hostile files built by hand, small on disk and costly to render: a PDF whose page is
painted over and over (CPU), a PNG with a large canvas and a float TIFF (memory). They are
written piecewise, so that making them costs the test little memory.
"""

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


def fill_bomb_pdf(fills: int, variant: str = "") -> bytes:
    """A valid one-page PDF whose page is painted over ``fills`` times: about a second of
    rendering per 10,000, and 7 KB for 100,000 (the painting is compressed). ``variant`` goes
    into a comment, so that each copy's bytes differ."""
    content = zlib.compress((f"% {variant}\n" + "0.5 g 0 0 612 792 re f\n" * fills).encode(), 9)
    return _pdf_of(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n%b\nendstream"
            % (len(content), content),
        ]
    )


def _pdf_of(objects: list[bytes]) -> bytes:
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    xref_at = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    pdf += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(pdf)


def _deflated_zeros(rows: int, row_bytes: int) -> bytes:
    compressor = zlib.compressobj(9)
    row = bytes(row_bytes)
    return b"".join(compressor.compress(row) for _ in range(rows)) + compressor.flush()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def large_canvas_png(side: int = 7070) -> bytes:
    """A transparent RGBA PNG of side x side pixels (7070: under 50 megapixels, 200 MB
    decoded), about 200 KB on disk."""
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)  # 8-bit RGBA
    pixels = _deflated_zeros(side, 1 + 4 * side)  # each row: filter byte, then pixels
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def float_tiff(side: int = 7000) -> bytes:
    """A one-strip, deflate-compressed TIFF of 32-bit float samples (7000 a side: under 50
    megapixels, 196 MB decoded), a few hundred KB on disk."""
    pixels = _deflated_zeros(side, 4 * side)
    entries = [  # tag, type (3 short, 4 long), value
        (256, 4, side),  # ImageWidth
        (257, 4, side),  # ImageLength
        (258, 3, 32),  # BitsPerSample
        (259, 3, 8),  # Compression: deflate
        (262, 3, 1),  # PhotometricInterpretation: black is zero
        (273, 4, 8),  # StripOffsets: the pixels follow the 8-byte header
        (277, 3, 1),  # SamplesPerPixel
        (278, 4, side),  # RowsPerStrip
        (279, 4, len(pixels)),  # StripByteCounts
        (339, 3, 3),  # SampleFormat: IEEE float
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        field = struct.pack("<I", value) if kind == 4 else struct.pack("<HH", value, 0)
        ifd += struct.pack("<HHI", tag, kind, 1) + field
    ifd += struct.pack("<I", 0)
    header = b"II*\x00" + struct.pack("<I", 8 + len(pixels))
    return header + pixels + ifd


def opened(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image
