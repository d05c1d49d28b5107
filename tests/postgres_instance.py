"""Real processes for the operations tests that stop, restart or kill them: a Postgres cluster of
a test's own (initdb into a temporary folder, on a free loopback port), a scratch database on a
given Postgres, and ``customer-api serve`` started with chosen settings.

``tests/live_server.py`` starts the server with its default settings; the tests here need
others (a small connection pool, a Postgres that comes and goes, a short shutdown timeout), and
need to kill the server whole, so it is started in a process group of its own.
"""

import asyncio
import contextlib
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.live_server import (
    LiveServer,
    free_port,
    live_server,
    server_environment,
)

POSTGRES_PROGRAMS = ("initdb", "pg_ctl", "postgres")
POSTGRES_USER = "postgres"
PG_CTL_SECONDS = 60


def _version(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))


def find_postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin with the server programs, else the folder
    of an ``initdb`` on the PATH."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bin_dir in candidates:
        if all((bin_dir / program).is_file() for program in POSTGRES_PROGRAMS):
            return bin_dir
    return None


def _missing_reason(bin_dir: Path | None) -> str | None:
    if bin_dir is None:
        return "needs the Postgres server programs (initdb, pg_ctl, postgres)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            return "Postgres refuses to run as root and there is no 'postgres' user to run it as"
    return None


POSTGRES_BIN = find_postgres_bin()
POSTGRES_MISSING = _missing_reason(POSTGRES_BIN)
requires_postgres_programs = pytest.mark.skipif(
    POSTGRES_MISSING is not None, reason=POSTGRES_MISSING or ""
)


@dataclass
class PostgresCluster:
    """A Postgres cluster in ``root`` (data, log and socket), listening on 127.0.0.1:``port``."""

    bin_dir: Path
    root: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, program: str, *args: str) -> None:
        """Run one of the server programs, as the ``postgres`` user when this process is root
        (Postgres refuses to run as root)."""
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", POSTGRES_USER, "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PG_CTL_SECONDS + 30, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} failed:\n{result.stdout}{result.stderr}\n"
                f"{self.log_text()}"
            )

    def log_text(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    def pg_ctl(self, action: str, *args: str) -> None:
        """``pg_ctl <action>``, waiting until it is done."""
        where = ["-D", str(self.data_dir), "-l", str(self.log_file)]
        self.run("pg_ctl", action, *where, "-w", "-t", str(PG_CTL_SECONDS), *args)

    def initialise(self) -> None:
        """initdb with trust authentication, and the settings for a fast, throwaway cluster."""
        options = ["-U", POSTGRES_USER, "--auth=trust", "--encoding=UTF8", "--locale=C"]
        self.run("initdb", "-D", str(self.data_dir), *options, "--no-sync")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "50",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        self.pg_ctl("restart", "-m", mode)

    def create_database(self, name: str) -> str:
        """Create a database; its URL."""
        asyncio.run(_execute(self.url("postgres"), f'CREATE DATABASE "{name}"'))
        return self.url(name)


@contextmanager
def own_postgres() -> Iterator[PostgresCluster]:
    """A new, running cluster for one test, stopped and deleted afterwards.

    Its folder is made directly in the system's temporary directory: the ``postgres`` user must
    be able to reach it, which it cannot inside pytest's per-user (mode 0700) folders.
    """
    if POSTGRES_BIN is None or POSTGRES_MISSING is not None:
        pytest.skip(POSTGRES_MISSING or "no Postgres")
    root = Path(tempfile.mkdtemp(prefix="customer-api-pg-"))
    cluster = PostgresCluster(POSTGRES_BIN, root, free_port())
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam(POSTGRES_USER)
            os.chown(root, user.pw_uid, user.pw_gid)
        cluster.initialise()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


async def _execute(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _plain_postgres_url(url: str, database: str) -> str:
    """The URL asyncpg understands (``postgresql://``), for another database on that server."""
    plain = make_url(url).set(drivername="postgresql", database=database)
    return plain.render_as_string(hide_password=False)


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the Postgres of ``server_url`` (which is left alone), dropped
    afterwards; its URL."""
    name = f"customer_api_scratch_{uuid.uuid4().hex[:12]}"
    existing = _plain_postgres_url(server_url, make_url(server_url).database or "postgres")
    asyncio.run(_execute(existing, f'CREATE DATABASE "{name}"'))
    try:
        yield _plain_postgres_url(server_url, name)
    finally:
        asyncio.run(_execute(existing, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def create_key(settings: Mapping[str, str], group: str) -> str:
    """``customer-api keys create --group ...`` against the settings' database: the new key."""
    result = subprocess.run(
        [sys.executable, "-m", "customer_api", "keys", "create", "--group", group],
        env=server_environment(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


@contextmanager
def server_with_settings(workdir: Path, settings: Mapping[str, str]) -> Iterator[LiveServer]:
    """``customer-api serve`` with ``settings`` (names without the prefix), its cwd and logs in
    ``workdir``."""
    with live_server(workdir, settings=settings) as server:
        yield server
