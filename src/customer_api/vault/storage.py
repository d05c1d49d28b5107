"""Where the vault's bytes live: an interface, and the local-directory implementation.

Objects are named by keys the storage chooses (``documents/ab/ab12…``) or derives from them
(thumbnails). Everything above this module (the document logic, the routes, the thumbnails) sees
only ``VaultStorage``, so an object-storage implementation can be added beside ``LocalStorage``
without touching them.
"""

import fcntl
import hashlib
import logging
import os
import re
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from uuid import uuid4

import anyio
import anyio.to_thread

logger = logging.getLogger("customer_api.vault")

WRITE_BUFFER_BYTES = 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024
# A temporary file is claimed (locked) within microseconds of being made; one younger than this
# may be between the two steps, so a start leaves it for the next.
UNCLAIMED_GRACE_SECONDS = 2.0

_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9._-]*)+$")


class ObjectMissing(Exception):
    """The storage has no object under the key."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str


class UploadWriter(ABC):
    """Bytes on their way into the vault, hashed as they pass: the object is visible under its
    key only once committed, and nothing is left when it is not."""

    size: int = 0

    @abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abstractmethod
    async def commit(self) -> StoredObject:
        """Make the object durable and visible; the writer takes no more data."""


class VaultStorage(ABC):
    @abstractmethod
    async def prepare(self) -> None:
        """Get ready to serve (create what is missing, clear what a crash left)."""

    @abstractmethod
    def upload(self) -> AbstractAsyncContextManager[UploadWriter]:
        """A writer for a new object; leaving the block without ``commit()`` discards it."""

    @abstractmethod
    async def read_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes ``start`` to ``end`` (exclusive) of an object, in chunks.

        Raises ObjectMissing at once (not while iterating) when there is no such object.
        """

    @abstractmethod
    async def local_path(self, key: str) -> Path:
        """A local file holding the object, for libraries that read files (thumbnailing)."""

    @abstractmethod
    async def read_bytes(self, key: str) -> bytes | None:
        """A small object whole, or None when there is none."""

    @abstractmethod
    async def put_bytes(self, key: str, data: bytes) -> None:
        """Store a small object under a key derived from another (atomically)."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove an object; removing a missing one is not an error."""


def derived_key(key: str, kind: str, suffix: str) -> str:
    """The key of something made from an object, e.g. its thumbnail."""
    _, _, rest = key.partition("/")
    return f"{kind}/{rest}{suffix}"


class LocalStorage(VaultStorage):
    """A directory: objects at ``<root>/<key>``, uploads in progress in ``<root>/.incoming``.

    The temporary files are in the vault's own directory, so the final rename is atomic; the
    file and its directory are fsynced, so an acknowledged upload survives a power cut.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.incoming = self.root / ".incoming"

    async def prepare(self) -> None:
        await anyio.to_thread.run_sync(self._prepare)

    def _prepare(self) -> None:
        """Remove the temporary files no running process owns: each writer holds a lock on its
        file while it lives (released by the kernel when the process dies, however it dies),
        so what is unlocked here was left by a crash or a kill."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        for leftover in self.incoming.iterdir():
            if _remove_if_unowned(leftover):
                logger.info("removed an upload left over from a stopped process: %s", leftover.name)

    def path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a vault key: {key!r}")
        return self.root / key

    def new_key(self) -> str:
        name = uuid4().hex
        return f"documents/{name[:2]}/{name}"

    @asynccontextmanager
    async def upload(self) -> AsyncIterator[UploadWriter]:
        writer = await anyio.to_thread.run_sync(_LocalUpload, self)
        try:
            yield writer
        finally:
            if not writer.committed:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(writer.discard)

    async def read_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        try:
            file = await anyio.open_file(self.path(key), "rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc
        return _chunks(file, start, end)

    async def local_path(self, key: str) -> Path:
        path = self.path(key)
        if not await anyio.Path(path).is_file():
            raise ObjectMissing(key)
        return path

    async def read_bytes(self, key: str) -> bytes | None:
        try:
            return await anyio.Path(self.path(key)).read_bytes()
        except FileNotFoundError:
            return None

    async def put_bytes(self, key: str, data: bytes) -> None:
        await anyio.to_thread.run_sync(self._put_bytes, self.path(key), data)

    def _put_bytes(self, target: Path, data: bytes) -> None:
        descriptor, temporary = tempfile.mkstemp(dir=self.incoming, prefix="put-")
        _claim(descriptor)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            _publish(Path(temporary), target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def delete(self, key: str) -> None:
        await anyio.Path(self.path(key)).unlink(missing_ok=True)


class _LocalUpload(UploadWriter):
    """Buffers up to WRITE_BUFFER_BYTES, then writes and hashes in a worker thread."""

    def __init__(self, storage: LocalStorage) -> None:
        self._storage = storage
        descriptor, temporary = tempfile.mkstemp(dir=storage.incoming, prefix="upload-")
        _claim(descriptor)
        self._temporary = Path(temporary)
        self._file: BinaryIO = os.fdopen(descriptor, "wb")
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self.size = 0
        self.committed = False

    async def write(self, data: bytes) -> None:
        if self.committed:
            raise RuntimeError("the upload is already committed")
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= WRITE_BUFFER_BYTES:
            await self._flush_buffer()

    async def _flush_buffer(self) -> None:
        if self._buffer:
            data, self._buffer = self._buffer, bytearray()
            await anyio.to_thread.run_sync(self._write_through, data)

    def _write_through(self, data: bytearray) -> None:
        self._file.write(data)
        self._hash.update(data)

    async def commit(self) -> StoredObject:
        await self._flush_buffer()
        key = self._storage.new_key()
        await anyio.to_thread.run_sync(self._finish, self._storage.path(key))
        self.committed = True
        return StoredObject(key=key, size=self.size, sha256=self._hash.hexdigest())

    def _finish(self, target: Path) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        _publish(self._temporary, target)

    def discard(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)


def _claim(descriptor: int) -> None:
    """Mark a temporary file as this process's: the lock lasts as long as the process does."""
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _remove_if_unowned(path: Path) -> bool:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, IsADirectoryError):
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return False  # a running upload's
    try:
        if time.time() - os.fstat(descriptor).st_ctime < UNCLAIMED_GRACE_SECONDS:
            return False
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(descriptor)


def _publish(temporary: Path, target: Path) -> None:
    """Rename a complete, fsynced file into place and fsync the directory that now names it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temporary, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


async def _chunks(file: anyio.AsyncFile[bytes], start: int, end: int) -> AsyncIterator[bytes]:
    try:
        await file.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = await file.read(min(READ_CHUNK_BYTES, remaining))
            if not chunk:
                raise ObjectMissing("the stored file is shorter than recorded")
            remaining -= len(chunk)
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await file.aclose()
