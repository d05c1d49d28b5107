"""Thumbnails: images scaled with Pillow, a PDF's first page rendered with PDFium, and for
everything else (and anything that cannot be rendered within the limits) an icon for its kind.

Rendering runs in a separate, limited process (``vault/rendering.py``): CPU time and memory
capped by the kernel, a wall-clock deadline enforced here. Whatever the outcome, it is kept in
the vault beside the file (the JPEG, or in its place the PNG icon of a file that could not be
rendered, told apart by its signature), so each file is rendered at most once. Per server
process at most ``concurrency`` renders run at once, requests for a file being rendered share
that render, and past ``queue`` renders waiting the answer is 503 rather than a longer queue.
"""

import asyncio
import contextlib
import functools
import hashlib
import io
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from PIL import Image, ImageDraw, ImageFont

from customer_api.core import metrics
from customer_api.core.errors import ServiceUnavailable
from customer_api.vault import rendering
from customer_api.vault.storage import VaultStorage, derived_key

logger = logging.getLogger("customer_api.vault")

JPEG = "image/jpeg"
PNG = "image/png"
ICON_SIDE = 256
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIB = 1024 * 1024
# A request gives up waiting this long after the render's deadline (the render goes on).
WAIT_MARGIN_SECONDS = 0.5
BUSY_TEXT = "Thumbnails are being made for other requests; try again in a few seconds."


@dataclass(frozen=True)
class RenderLimits:
    timeout: float = 10.0
    cpu_seconds: int = 5
    memory_bytes: int = 256 * MIB
    concurrency: int = 2
    queue: int = 16


@dataclass(frozen=True)
class Thumbnail:
    content: bytes
    media_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.content).hexdigest()[:32] + '"'


def is_renderable(mime_type: str) -> bool:
    return mime_type.startswith("image/") or mime_type == "application/pdf"


class Thumbnailer:
    """Makes and keeps thumbnails for one server process, within RenderLimits."""

    def __init__(self, vault: VaultStorage, limits: RenderLimits) -> None:
        self.vault = vault
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.concurrency)
        self._renders: dict[str, asyncio.Task[Thumbnail]] = {}
        self._processes: set[asyncio.subprocess.Process] = set()

    async def thumbnail_of(self, *, storage_key: str | None, mime_type: str) -> Thumbnail:
        """The thumbnail of a stored file (made and kept on first use), or the icon for its
        kind; 503 when the render does not finish within the limits' timeout."""
        if storage_key is None or not is_renderable(mime_type):
            return await anyio.to_thread.run_sync(icon_for, mime_type)
        kept_key = derived_key(storage_key, "thumbnails", ".jpg")
        kept = await self.vault.read_bytes(kept_key)
        if kept is not None:
            return Thumbnail(kept, PNG if kept.startswith(_PNG_SIGNATURE) else JPEG)
        render = self._renders.get(kept_key) or self._start(storage_key, kept_key, mime_type)
        try:
            async with asyncio.timeout(self.limits.timeout + WAIT_MARGIN_SECONDS):
                return await asyncio.shield(render)
        except TimeoutError:
            raise ServiceUnavailable(BUSY_TEXT, reason="thumbnail wait") from None

    def _start(self, storage_key: str, kept_key: str, mime_type: str) -> asyncio.Task[Thumbnail]:
        waiting = len(self._renders) - self.limits.concurrency
        if waiting >= self.limits.queue:
            metrics.THUMBNAIL_RENDERS.labels("busy").inc()
            raise ServiceUnavailable(BUSY_TEXT, reason=f"{len(self._renders)} renders queued")
        task = asyncio.create_task(self._render_and_keep(storage_key, kept_key, mime_type))
        self._renders[kept_key] = task
        task.add_done_callback(functools.partial(self._finished, kept_key))
        return task

    def _finished(self, kept_key: str, task: asyncio.Task[Thumbnail]) -> None:
        self._renders.pop(kept_key, None)
        if not task.cancelled() and task.exception() is not None:
            # Seen by the requests still waiting; logged here for when none is left.
            logger.info("thumbnail of %s not made: %r", kept_key, task.exception())

    async def _render_and_keep(self, storage_key: str, kept_key: str, mime_type: str) -> Thumbnail:
        source = await self.vault.local_path(storage_key)
        async with self._slots:
            content, outcome = await self._render(source, mime_type)
        metrics.THUMBNAIL_RENDERS.labels(outcome).inc()
        if content is None:
            log = logger.info if outcome == "refused" else logger.warning
            log("no thumbnail for %s (%s): %s; its icon is kept", storage_key, mime_type, outcome)
            thumbnail = await anyio.to_thread.run_sync(icon_for, mime_type)
        else:
            thumbnail = Thumbnail(content, JPEG)
        await self.vault.put_bytes(kept_key, thumbnail.content)
        return thumbnail

    async def _render(self, source: Path, mime_type: str) -> tuple[bytes | None, str]:
        """The JPEG, or None, and how the render ended (the metric's outcome label)."""
        limits = self.limits
        arguments = [str(source), mime_type, str(limits.cpu_seconds), str(limits.memory_bytes)]
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-B", "-m", rendering.__name__, *arguments,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
        except OSError as exc:  # no process to be had (e.g. out of PIDs): try again later
            raise ServiceUnavailable(BUSY_TEXT, reason=f"renderer: {exc}") from exc
        self._processes.add(process)
        try:
            async with asyncio.timeout(limits.timeout):
                output, errors = await process.communicate()
        except TimeoutError:
            return None, "timeout"
        finally:
            await _stopped(process)
            self._processes.discard(process)
        return _outcome(process.returncode, output, errors)

    async def close(self) -> None:
        """Stop every render at once (the server is stopping)."""
        renders = list(self._renders.values())
        for task in renders:
            task.cancel()
        await asyncio.gather(*renders, return_exceptions=True)
        for process in list(self._processes):
            await _stopped(process)


def _outcome(status: int | None, output: bytes, errors: bytes) -> tuple[bytes | None, str]:
    if status == rendering.RENDERED and output:
        return output, "rendered"
    if status == rendering.REFUSED:
        logger.info("render refused: %s", errors.decode(errors="replace").strip()[-300:])
        return None, "refused"
    if status == rendering.OUT_OF_MEMORY:
        return None, "memory_limit"
    if status in (-signal.SIGXCPU, -signal.SIGKILL):
        return None, "cpu_limit"
    return None, "failed"


async def _stopped(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    await process.wait()


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
