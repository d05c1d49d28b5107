"""Hostile files: what their thumbnails cost the server, and a neighbour meanwhile.

Starts ``customer-api serve`` (from ``--source``, so that two versions can be compared) on a
temporary SQLite database and vault, a fresh one per case, uploads small files that are costly
to render (a 7 KB PDF painted over 100,000 times, a 190 KB PNG of 7070x7070 RGBA, a float TIFF;
and four different large-canvas PNGs asked for at once), then asks for each thumbnail while
another group asks for the thumbnail of an ordinary PDF. For each it reports the answer, how
long it took, how much the server process's peak resident memory (VmHWM) grew, the largest
render process seen (when renders run in processes of their own), and the neighbour's wait.

    python bench/hostile_files.py                          # this checkout
    python bench/hostile_files.py --source /tmp/old/src    # another version

Goals: peak RSS growth under 256 MB per server worker whatever is uploaded; no thumbnail
request waits more than the render timeout (CUSTOMER_API_THUMBNAIL_TIMEOUT, 10 s) plus 1 s.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.upload_1gib import free_port, memory_kib, wait_until_up  # noqa: E402
from tests.documents import files  # noqa: E402

MIB = 1024 * 1024
CLIENT_TIMEOUT = 180.0


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    keys: tuple[str, str]


def start(source: Path, workdir: Path) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "CUSTOMER_API_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "CUSTOMER_API_VAULT_DIR": str(workdir / "vault"),
        "CUSTOMER_API_LOG_LEVEL": "warning",
        "CUSTOMER_API_RATE_LIMIT_PER_KEY": "0",  # the load would spend any budget
        "CUSTOMER_API_RATE_LIMIT_PER_GROUP": "0",
        "PYTHONPATH": str(source),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "customer_api"]
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True
    )
    first = next(line.strip() for line in process.stdout if line.strip().startswith("cak_"))
    neighbour = subprocess.run(
        [*command, "keys", "create", "--group", "Neighbour"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    wait_until_up(base_url)
    return Server(process, base_url, (first, neighbour))


class RenderWatch:
    """Samples the resident memory of the server's child processes (its renders), if any."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kib, self._running = pid, 0, True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while self._running:
            for status in Path("/proc").glob("[0-9]*/status"):
                try:
                    text = status.read_text()
                except OSError:
                    continue
                if re.search(rf"^PPid:\s+{self.pid}$", text, re.MULTILINE):
                    rss = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
                    self.peak_kib = max(self.peak_kib, int(rss.group(1)) if rss else 0)
            time.sleep(0.02)

    def stop(self) -> int:
        self._running = False
        self._thread.join()
        return self.peak_kib


def upload(server: Server, key: str, name: str, content: bytes) -> str:
    response = httpx.post(
        f"{server.base_url}/api/1/document/content",
        headers={"API-Key": key},
        files={"file": (name, content)},
        timeout=60,
    )
    response.raise_for_status()
    return response.json()["document"]["uuid"]


def thumbnail(server: Server, key: str, uuid: str) -> tuple[str, float]:
    started = time.monotonic()
    try:
        response = httpx.get(
            f"{server.base_url}/vault/thumbnail/{uuid}",
            headers={"API-Key": key},
            timeout=CLIENT_TIMEOUT,
        )
        answer = f"{response.status_code} {response.headers.get('content-type', '')}"
    except httpx.TimeoutException:
        answer = f"no answer in {CLIENT_TIMEOUT:g} s"
    return answer, time.monotonic() - started


def measure(server: Server, label: str, contents: list[bytes], neighbour_uuid: str) -> list[str]:
    hostile_key, neighbour_key = server.keys
    uuids = [upload(server, hostile_key, f"hostile-{n}", c) for n, c in enumerate(contents)]
    peak_before = memory_kib(server.process.pid, "VmHWM")
    renders = RenderWatch(server.process.pid)
    with ThreadPoolExecutor(len(uuids) + 1) as pool:
        asked = [pool.submit(thumbnail, server, hostile_key, uuid) for uuid in uuids]
        time.sleep(0.5)
        neighbour = pool.submit(thumbnail, server, neighbour_key, neighbour_uuid).result()
        answers = [a.result() for a in asked]
    render_peak = renders.stop()
    growth = memory_kib(server.process.pid, "VmHWM") - peak_before
    slowest = max(seconds for _, seconds in answers)
    return [
        label,
        ", ".join(sorted({answer for answer, _ in answers})),
        f"{slowest:.1f} s",
        f"{growth / 1024:.0f} MiB",
        f"{render_peak / 1024:.0f} MiB" if render_peak else "-",
        f"{neighbour[1]:.2f} s ({neighbour[0].split()[0]})",
    ]


CASES = [
    ("PDF, 100,000 fills (7 KB)", lambda: [files.fill_bomb_pdf(100_000)]),
    ("PNG 7070x7070 RGBA (190 KB)", lambda: [files.large_canvas_png()]),
    ("TIFF 7000x7000 float (190 KB)", lambda: [files.float_tiff()]),
    ("4 PNGs ~7070x7070 at once", lambda: [files.large_canvas_png(7070 - n) for n in range(4)]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=str(ROOT / "src"), help="the src/ directory to run")
    args = parser.parse_args()
    rows = []
    for number, (label, make) in enumerate(CASES):
        # A server of its own per case: VmHWM is a peak since the process started.
        with tempfile.TemporaryDirectory(prefix="hostile-bench-") as workdir:
            server = start(Path(args.source).resolve(), Path(workdir))
            try:
                pdf = files.pdf(f"#{number:06x}")
                neighbour_pdf = upload(server, server.keys[1], "plan.pdf", pdf)
                rows.append(measure(server, label, make(), neighbour_pdf))
                print(" | ".join(rows[-1]), flush=True)
            finally:
                server.process.terminate()
                try:
                    server.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.process.kill()  # a render that cannot be interrupted kept it alive
    header = ["file", "answer", "slowest answer", "server peak RSS growth", "largest render",
              "neighbour's PDF thumbnail"]  # fmt: skip
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
