"""Start-up and configuration failures told in two plain lines: what is wrong, naming the
setting and its value (never a password), and what to do. A traceback helps the developer, not
the operator who mistyped a URL; the commands show it with ``--debug``."""

import errno
import re
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

PREFIX = "CUSTOMER_API_"
DATABASE_SETTING = f"{PREFIX}DATABASE_URL"
_PASSWORD = re.compile(r"([^:/@]+:)[^@/]*@")  # user:password@, also in a malformed URL


class StartupFailure(Exception):
    """A failure already put in words for the operator: ``lines`` is all there is to say."""

    def __init__(self, *lines: str) -> None:
        super().__init__(" ".join(lines))
        self.lines = list(lines)


def shown_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return _PASSWORD.sub(r"\1***@", url)


def database_location(url: str) -> str:
    """Where a database URL points, as a person looks for it: an SQLite file's absolute path."""
    try:
        parsed = make_url(url)
    except Exception:
        return shown_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return str(Path(parsed.database).expanduser().resolve())
    return parsed.render_as_string(hide_password=True)


def explain(exc: BaseException, database_url: str) -> list[str] | None:
    """Two lines for a failure an operator can fix, or None for anything else (a bug)."""
    if isinstance(exc, StartupFailure):
        return exc.lines
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return _settings_lines(exc)
    if isinstance(exc, DBAPIError) or (isinstance(exc, OSError) and _from_database(exc)):
        return _database_lines(exc, database_url)
    return None


_DATABASE_CODE = ("/sqlalchemy/", "/asyncpg/", "/aiosqlite/", "/core/db.py")


def _from_database(exc: BaseException) -> bool:
    """Whether the error came up through the database code (a refused connection to another
    service, such as Elasticsearch, is not the database's)."""
    for cause in _causes(exc):
        frame = cause.__traceback__
        while frame is not None:
            if any(part in frame.tb_frame.f_code.co_filename for part in _DATABASE_CODE):
                return True
            frame = frame.tb_next
    return False


def _settings_lines(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        value = error.get("input")
        shown = shown_url(value) if "url" in field and isinstance(value, str) else value
        message = error["msg"].removeprefix("Value error, ").rstrip(".")
        lines.append(f"customer-api: {PREFIX}{field.upper()}={shown!r} is not valid: {message}.")
    lines.append(
        "Correct it, or unset it to use the default (README.md, Settings, lists every setting)."
    )
    return lines


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, the driver's error it wraps, and their causes, each once."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(inner, BaseException):
                pending.append(inner)


def _database_lines(exc: BaseException, url: str) -> list[str] | None:
    setting = f"{DATABASE_SETTING}={shown_url(url)}"
    try:
        parsed = make_url(url)
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
        name, user = parsed.database, parsed.username
    except Exception:
        where, name, user = "its host", None, None
    for cause in _causes(exc):
        kind = type(cause).__name__
        if kind == "InvalidCatalogNameError":
            return [
                f"customer-api: the database {name!r} does not exist ({setting}).",
                f"Create it (createdb -h {where.split(':')[0]} -U {user or 'postgres'} {name}), "
                f"or set {DATABASE_SETTING} to one that exists.",
            ]
        if kind in ("InvalidAuthorizationSpecificationError", "InvalidPasswordError"):
            return [
                f"customer-api: the database server refused the login: {_first_line(cause)} "
                f"({setting}).",
                f"Correct the user or password in {DATABASE_SETTING}, or create that role.",
            ]
        if isinstance(cause, socket.gaierror):
            return [
                f"customer-api: the database host in {setting} cannot be found ({cause.strerror}).",
                f"Correct the host name in {DATABASE_SETTING}.",
            ]
        if isinstance(cause, ConnectionRefusedError) or _refused(cause):
            return [
                f"customer-api: no database server answers at {where} ({setting}).",
                f"Start it, or correct the host and port in {DATABASE_SETTING}.",
            ]
        if isinstance(cause, TimeoutError):
            return [
                f"customer-api: the database server at {where} did not answer in time ({setting}).",
                f"Check that it runs and can be reached from here, or correct {DATABASE_SETTING}.",
            ]
        if isinstance(cause, sqlite3.DatabaseError) or _about_sqlite_file(cause, url):
            path = database_location(url)
            return [
                f"customer-api: cannot use the SQLite database {path}: {_first_line(cause)} "
                f"({setting}).",
                "Make sure its folder exists or can be created and is writable, and that the file"
                f" is an SQLite database; or set {DATABASE_SETTING} to another path.",
            ]
    if isinstance(exc, DBAPIError):
        return [
            f"customer-api: the database failed: {_first_line(exc.orig or exc)} ({setting}).",
            f"Check the database and {DATABASE_SETTING} (--debug shows the traceback).",
        ]
    return None


def _about_sqlite_file(exc: BaseException, url: str) -> bool:
    """An OS error on the SQLite file or a folder above it (made before connecting)."""
    if not isinstance(exc, OSError) or not exc.filename:
        return False
    path = Path(database_location(url))
    failed = Path(str(exc.filename)).expanduser().resolve()
    return failed == path or failed in path.parents


def _refused(exc: BaseException) -> bool:
    """asyncpg tries every address of a host name and reports "Multiple exceptions" when all of
    them refuse."""
    if isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED:
        return True
    return isinstance(exc, OSError) and "Connect call failed" in str(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    text = text.splitlines()[0]
    return text.removeprefix("(sqlalchemy.dialects.postgresql.asyncpg.Error) ").rstrip(".")
