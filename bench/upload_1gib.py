"""Upload one large file to a real server and report throughput and the server's memory.

Starts ``customer-api serve`` as a subprocess on a temporary database and vault, streams a
generated file (1 GiB by default) with httpx from a generator, checks that the stored file's
ETag is the SHA-256 of what was sent, and reports the throughput and how much the server's peak
resident memory (VmHWM in /proc/<pid>/status) grew during the upload. The goal is growth under
64 MiB whatever the file's size.

    python bench/upload_1gib.py               # 1 GiB
    python bench/upload_1gib.py --mib 256     # a quicker run
"""

import argparse
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

MIB = 1024 * 1024
CHUNK = MIB
BOUNDARY = "bench-boundary-3f9a1c"
SOURCE = Path(__file__).resolve().parents[1] / "src"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def memory_kib(pid: int, field: str) -> int:
    """VmHWM (peak resident set) or VmRSS of a process, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE).group(1))


def start_server(workdir: Path, port: int, max_bytes: int) -> tuple[subprocess.Popen, str]:
    """The server process and the API key it printed on its first start."""
    env = {
        **os.environ,
        "CUSTOMER_API_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "CUSTOMER_API_VAULT_DIR": str(workdir / "vault"),
        "CUSTOMER_API_MAX_UPLOAD_BYTES": str(max_bytes),
        "CUSTOMER_API_LOG_LEVEL": "warning",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SOURCE), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "customer_api", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in server.stdout:
        if line.strip().startswith("cak_"):
            return server, line.strip()
    raise RuntimeError("the server exited without printing a key")


def wait_until_up(base_url: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(f"{base_url}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not come up")


def multipart_body(size: int, digest: "hashlib._Hash") -> tuple[Iterator[bytes], int]:
    """A generator of a multipart body with ``size`` bytes of file, and the body's length."""
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="large.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    block = os.urandom(CHUNK)

    def generate() -> Iterator[bytes]:
        yield head
        remaining = size
        while remaining > 0:
            piece = block if remaining >= CHUNK else block[:remaining]
            digest.update(piece)
            remaining -= len(piece)
            yield piece
        yield tail

    return generate(), len(head) + size + len(tail)


def upload(base_url: str, key: str, size: int) -> tuple[dict, float, str]:
    digest = hashlib.sha256()
    body, length = multipart_body(size, digest)
    headers = {
        "API-Key": key,
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(length),
    }
    started = time.perf_counter()
    response = httpx.post(
        f"{base_url}/api/1/document/content", content=body, headers=headers, timeout=None
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return response.json()["document"], elapsed, digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="file size in MiB (1024 = 1 GiB)")
    size = parser.parse_args().mib * MIB
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="customer-api-bench-") as workdir:
        server, key = start_server(Path(workdir), port, max_bytes=size + MIB)
        try:
            wait_until_up(base_url)
            upload(base_url, key, MIB)  # warm up: first-request costs are not the upload's
            baseline_peak = memory_kib(server.pid, "VmHWM")
            baseline_rss = memory_kib(server.pid, "VmRSS")
            document, elapsed, sent_sha256 = upload(base_url, key, size)
            peak = memory_kib(server.pid, "VmHWM")
            stored = httpx.head(f"{base_url}{document['contentUrl']}", headers={"API-Key": key})
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
    assert document["size"] == size, document
    assert stored.headers["etag"] == f'"{sent_sha256}"', "stored bytes differ from sent bytes"
    growth_mib = (peak - baseline_peak) / 1024
    print(f"uploaded          {size / MIB:.0f} MiB in {elapsed:.1f} s")
    print(f"throughput        {size / MIB / elapsed:.0f} MiB/s")
    print(
        f"server RSS before {baseline_rss / 1024:.1f} MiB (peak so far {baseline_peak / 1024:.1f})"
    )
    print(f"server peak after {peak / 1024:.1f} MiB")
    print(f"peak growth       {growth_mib:.1f} MiB (goal: under 64 MiB)")
    print("stored SHA-256    matches what was sent")


if __name__ == "__main__":
    main()
