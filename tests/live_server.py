"""``customer-api serve`` as a real process on a free loopback port, for tests that need a real
server (a browser, the process's own log output, several workers)."""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

KEY = re.compile(r"cak_[A-Za-z0-9_-]{43}")
SOURCE = Path(__file__).resolve().parents[1] / "src"
STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    base_url: str
    workdir: Path
    process: subprocess.Popen

    @property
    def stdout(self) -> str:
        return (self.workdir / "stdout.txt").read_text()

    @property
    def stderr(self) -> str:
        return (self.workdir / "stderr.txt").read_text()

    def log_lines(self) -> list[dict]:
        """The JSON log lines (stderr also carries the plain lines ``serve`` prints first)."""
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]

    def wait_for_log(self, wanted: Callable[[dict], bool], seconds: float = 10) -> list[dict]:
        """The log lines once one is ``wanted``: a request's access line is written just after
        its response went out."""
        deadline = time.monotonic() + seconds
        while not any(wanted(line) for line in self.log_lines()):
            if time.monotonic() > deadline:
                raise AssertionError(f"no such log line in:\n{self.stderr}")
            time.sleep(0.05)
        return self.log_lines()

    @property
    def first_key(self) -> str:
        """The key a first start prints (on stderr, boxed)."""
        return KEY.search(self.stderr).group(0)


def server_environment(settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any ``CUSTOMER_API_*`` variable but ``settings``
    (given without the prefix), running this checkout's code whatever an installed copy or a
    relative PYTHONPATH would give."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOMER_API_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE), env.get("PYTHONPATH")]))
    env.update({f"CUSTOMER_API_{name}": value for name, value in (settings or {}).items()})
    return env


@contextmanager
def live_server(
    workdir: Path, *args: str, settings: Mapping[str, str] | None = None
) -> Iterator[LiveServer]:
    """Start the server in ``workdir`` (its ./data is the database and vault unless
    ``settings`` say otherwise), in a process group of its own, and wait until /health answers;
    stop it afterwards (unless the test already did)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with (workdir / "stdout.txt").open("w") as out, (workdir / "stderr.txt").open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "customer_api", "serve", "--port", str(port), *args],
            cwd=workdir,
            env=server_environment(settings),
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", workdir, process)
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        stop_server(server)


def stop_server(server: LiveServer, seconds: float = 30) -> None:
    """SIGTERM, and SIGKILL to the whole process group if it is not gone in ``seconds``."""
    if server.process.poll() is None:
        server.process.terminate()
    try:
        server.process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        kill_process_group(server)


def kill_process_group(server: LiveServer) -> None:
    """SIGKILL to the server and every process it started (it leads its own group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)


def _wait_until_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.stderr}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server not healthy after {STARTUP_SECONDS}s:\n{server.stderr}")
