"""Does one group's abuse slow another group down? Stalled uploads and slow renders.

Makes a scratch Postgres database, migrates it, creates two groups with a key each ("noisy"
and "quiet"), seeds the quiet group with customers and starts ``customer-api serve`` (one worker)
as a subprocess. Then, at the same time:

- the noisy group keeps ``--stalled`` uploads open: each sends its request headers (declaring a
  10 MiB body) and the first 64 KiB of a multipart body to ``POST /api/1/document/content``,
  then sends nothing more until the run ends;
- the noisy group runs ``--renders`` clients asking for thumbnails of slow-to-render PDFs it
  uploaded first (one page of thousands of full-page filled rectangles); each request is for a
  copy not rendered yet, since the server keeps a thumbnail once made;
- the quiet group runs ``--clients`` clients reading its own customers
  (``GET /api/1/customer/{id}`` and ``GET /api/1/customer?limit=20``) for ``--duration``
  seconds, recording every status and latency.

It prints the quiet group's requests, errors by status, latency percentiles and how many
renders the noisy group was served. The goal: 0 errors and p99 under 100 ms for the quiet
group. The server, the stalled sockets and the database are cleaned up however the run ends.

    python bench/noisy_neighbour.py
    python bench/noisy_neighbour.py --source /path/to/other/src --stalled 50 --renders 10 \\
        --clients 16 --duration 20
"""

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
BOUNDARY = "noisy-neighbour-7d1e"
STALLED_DECLARED_BYTES = 10 * 1024 * 1024
STALLED_SENT_BYTES = 64 * 1024
THUMBNAIL_SIDE = 512  # the server renders a PDF's first page to at most this many pixels a side
TIMEOUT = 60.0


# -- the slow PDF ----------------------------------------------------------------------------


def slow_pdf(fills: int, copy: int) -> bytes:
    """A valid one-page PDF (US Letter) whose content stream fills the whole page ``fills`` times.

    ``copy`` goes into a comment in the content stream, so every copy has different bytes (and
    a different SHA-256) but renders the same.
    """
    content = f"% copy {copy}\n0.2 0.4 0.8 rg\n".encode() + b"0 0 612 792 re f\n" * fills
    stream = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    pdf = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        pdf += b"%010d 00000 n \n" % offset
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(pdf)


def render_seconds(pdf: bytes) -> float:
    """How long PDFium takes here to render the PDF's first page at thumbnail size."""
    import pypdfium2 as pdfium

    started = time.perf_counter()
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        width, height = page.get_size()
        page.render(scale=THUMBNAIL_SIDE / max(width, height)).to_pil()
    finally:
        document.close()
    return time.perf_counter() - started


# -- database, keys and server ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def create_database(postgres: str, name: str) -> None:
    connection = await asyncpg.connect(f"{postgres}/postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(postgres: str, name: str) -> None:
    connection = await asyncpg.connect(f"{postgres}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def server_env(source: Path, database_url: str, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CUSTOMER_API_DATABASE_URL": database_url,
        "CUSTOMER_API_VAULT_DIR": str(workdir / "vault"),
        "CUSTOMER_API_LOG_LEVEL": "warning",
        "CUSTOMER_API_WORKERS": "1",
        "CUSTOMER_API_RATE_LIMIT_PER_KEY": "0",  # the load would spend any budget
        "CUSTOMER_API_RATE_LIMIT_PER_GROUP": "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }


def run_python(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run the interpreter with ``args`` and return its stdout (raising with stderr on failure)."""
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def migrate(env: dict[str, str], cwd: Path, source: Path) -> None:
    """The migrations of the source under test (they sit beside it), not of this checkout."""
    code = (
        "import os, customer_api; from customer_api.core.migrations import upgrade; "
        "upgrade(os.environ['CUSTOMER_API_DATABASE_URL']); print(customer_api.__file__)"
    )
    imported = Path(run_python(["-c", code], env, cwd).strip().splitlines()[-1])
    if not imported.resolve().is_relative_to(source):
        raise RuntimeError(f"customer_api was imported from {imported}, not from {source}")


def create_key(env: dict[str, str], cwd: Path, group: str) -> str:
    out = run_python(["-m", "customer_api", "keys", "create", "--group", group], env, cwd)
    key = out.strip().splitlines()[-1].strip()
    if not key.startswith("cak_"):
        raise RuntimeError(f"no key in the output of keys create:\n{out}")
    return key


def start_server(env: dict[str, str], cwd: Path, port: int, log: Path) -> subprocess.Popen:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "customer_api", "serve", "--port", str(port), "--workers", "1"],
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


_ID_IN_PATH = re.compile(r"(?<!/api)/(?:\d+|[0-9a-f]{8}-[0-9a-f-]{27})(?=[/\s?]|$)")


def server_errors(log: Path) -> Counter:
    """The errors the server logged (one JSON object a line), with how often each occurred: the
    message and, for an exception, the last line of its traceback."""
    errors: Counter = Counter()
    if not log.exists():
        return errors
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("level") not in ("ERROR", "CRITICAL"):
            continue
        what = str(entry.get("message", ""))
        traceback = str(entry.get("exc_info") or "").strip()
        if traceback:
            what += " | " + traceback.splitlines()[-1]
        what = what.split(" (Background on this error")[0]
        errors[_ID_IN_PATH.sub("/{id}", what)[:180]] += 1
    return errors


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def wait_until_up(base_url: str, server: subprocess.Popen, log: Path) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if server.poll() is not None:
                raise RuntimeError(f"the server exited:\n{tail(log)}")
            try:
                if (await client.get(f"{base_url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the server did not come up:\n{tail(log)}")


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it is still draining requests after a few seconds."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


# -- seeding ---------------------------------------------------------------------------------


async def gather_limited(count: int, concurrency: int, work) -> list:
    """``work(i)`` for i in range(count), at most ``concurrency`` at a time, results in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int):
        async with gate:
            return await work(i)

    return await asyncio.gather(*(one(i) for i in range(count)))


async def seed_customers(client: httpx.AsyncClient, key: str, count: int) -> list[int]:
    async def create(i: int) -> int:
        response = await client.post(
            "/api/1/customer",
            headers={"API-Key": key},
            json={"name": f"Quiet customer {i}", "customerNumber": f"Q-{i:05d}"},
        )
        response.raise_for_status()
        return response.json()["id"]

    return await gather_limited(count, 8, create)


async def upload_pdfs(client: httpx.AsyncClient, key: str, fills: int, copies: int) -> list[str]:
    async def upload(i: int) -> str:
        files = {"file": (f"slow-{i}.pdf", slow_pdf(fills, i), "application/pdf")}
        response = await client.post(
            "/api/1/document/content", headers={"API-Key": key}, files=files
        )
        response.raise_for_status()
        document = response.json()["document"]
        if document["mimeType"] != "application/pdf":
            raise RuntimeError(f"the slow PDF was stored as {document['mimeType']}")
        return document["uuid"]

    return await gather_limited(copies, 4, upload)


# -- the noisy group -------------------------------------------------------------------------


@dataclass
class Stalled:
    writer: asyncio.StreamWriter
    reader_task: asyncio.Task
    answer: str | None = None  # the status line, if the server answered
    answered_after: float | None = None
    closed: bool = False


async def open_stalled_upload(port: int, key: str, number: int, started: float) -> Stalled:
    """Send the headers and the first part of a multipart body, then nothing more."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    part_head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="stalled-{number}.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    head = (
        "POST /api/1/document/content HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"API-Key: {key}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {STALLED_DECLARED_BYTES}\r\n"
        "\r\n"
    ).encode()
    writer.write(head + part_head + os.urandom(STALLED_SENT_BYTES))
    await writer.drain()
    stalled = Stalled(writer=writer, reader_task=None)  # type: ignore[arg-type]

    async def watch() -> None:
        """Note whether (and when) the server answers or closes the connection."""
        try:
            line = await reader.readline()
            if line:
                stalled.answer = line.decode("latin-1").strip()
                stalled.answered_after = time.perf_counter() - started
            while await reader.read(65536):
                pass
        except (ConnectionError, OSError):
            pass
        stalled.closed = True

    stalled.reader_task = asyncio.create_task(watch())
    return stalled


def close_stalled(uploads: list[Stalled]) -> None:
    for upload in uploads:
        upload.reader_task.cancel()
        upload.writer.transport.abort()


@dataclass
class Renders:
    served: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)


async def render_client(
    client: httpx.AsyncClient, key: str, queue: list[str], renders: Renders, stop: asyncio.Event
) -> None:
    while not stop.is_set() and queue:
        uuid = queue.pop()
        started = time.perf_counter()
        try:
            response = await client.get(f"/vault/thumbnail/{uuid}", headers={"API-Key": key})
        except httpx.TimeoutException:
            renders.errors["timeout"] += 1
            continue
        except httpx.TransportError as exc:
            renders.errors[type(exc).__name__] += 1
            continue
        if response.status_code == 200 and response.headers.get("content-type") == "image/jpeg":
            renders.served += 1
            renders.latencies.append(time.perf_counter() - started)
        else:
            renders.errors[str(response.status_code)] += 1


# -- the quiet group -------------------------------------------------------------------------


@dataclass
class Sample:
    endpoint: str
    outcome: str  # the status code, "timeout", or the transport error's name
    seconds: float

    @property
    def ok(self) -> bool:
        return self.outcome in ("200", "204")


async def quiet_client(
    client: httpx.AsyncClient, key: str, ids: list[int], until: float, samples: list[Sample]
) -> None:
    rng = random.Random()
    while time.perf_counter() < until:
        if rng.random() < 0.5:
            endpoint, url = "GET /api/1/customer/{id}", f"/api/1/customer/{rng.choice(ids)}"
        else:
            endpoint, url = "GET /api/1/customer?limit=20", "/api/1/customer?limit=20"
        started = time.perf_counter()
        try:
            response = await client.get(url, headers={"API-Key": key})
            outcome = str(response.status_code)
        except httpx.TimeoutException:
            outcome = "timeout"
        except httpx.TransportError as exc:
            outcome = type(exc).__name__
        samples.append(Sample(endpoint, outcome, time.perf_counter() - started))


# -- report ----------------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.4999))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_line(seconds: list[float]) -> str:
    values = sorted(s * 1000 for s in seconds)
    return (
        f"p50 {percentile(values, 0.50):.1f}  p95 {percentile(values, 0.95):.1f}  "
        f"p99 {percentile(values, 0.99):.1f}  max {values[-1] if values else float('nan'):.1f} ms"
    )


def report(
    args: argparse.Namespace,
    samples: list[Sample],
    quiet_seconds: float,
    renders: Renders,
    stalled: list[Stalled],
    fills: int,
    pdf_bytes: int,
    local_render: float,
    logged: Counter,
) -> None:
    errors = Counter(s.outcome for s in samples if not s.ok)
    statuses = Counter(s.outcome for s in samples)
    all_latencies = sorted(s.seconds * 1000 for s in samples)
    p99 = percentile(all_latencies, 0.99)
    print(f"source            {args.source}")
    print(
        f"noise             {args.stalled} stalled uploads, {args.renders} render clients; "
        f"slow PDF: {fills} page fills, {pdf_bytes / 1024:.1f} KiB, "
        f"{local_render:.2f} s to render here"
    )
    print()
    print(
        f"quiet group       {args.clients} clients for {args.duration:g} s "
        f"(last answer after {quiet_seconds:.1f} s)"
    )
    print(f"requests          {len(samples)} ({len(samples) / quiet_seconds:.1f}/s)")
    print(f"statuses          {dict(sorted(statuses.items()))}")
    print(
        f"errors            {sum(errors.values())}"
        + (f" {dict(sorted(errors.items()))}" if errors else "")
    )
    print(f"latency           {latency_line([s.seconds for s in samples])}")
    for endpoint in sorted({s.endpoint for s in samples}):
        ours = [s for s in samples if s.endpoint == endpoint]
        failed = sum(not s.ok for s in ours)
        print(
            f"  {endpoint:<28} n={len(ours):<6} errors={failed:<5} "
            f"{latency_line([s.seconds for s in ours])}"
        )
    met = not errors and samples and p99 < 100
    print(
        f"goal              0 errors and p99 under 100 ms: {'MET' if met else 'NOT MET'} "
        f"({sum(errors.values())} errors, p99 {p99:.1f} ms)"
    )
    print()
    render_errors = f" {dict(renders.errors)}" if renders.errors else ""
    print(
        f"noisy renders     {renders.served} served "
        f"({latency_line(renders.latencies) if renders.latencies else 'none'}); "
        f"errors {sum(renders.errors.values())}{render_errors}"
    )
    answered = Counter(u.answer for u in stalled if u.answer)
    first = min((u.answered_after for u in stalled if u.answered_after), default=None)
    print(
        f"stalled uploads   {len(stalled)} opened, "
        f"{sum(not u.closed for u in stalled)} still open at the end, "
        f"{sum(answered.values())} answered"
        + (f" {dict(answered)} (first after {first:.1f} s)" if answered else "")
    )
    print(f"server errors     {sum(logged.values())} logged")
    for line, count in logged.most_common(5):
        print(f"  {count:>5} x {line}")


# -- the run ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace, workdir: Path, cleanup: list) -> None:
    pdf = slow_pdf(args.fills, 0)
    local_render = render_seconds(pdf)
    print(
        f"slow PDF: {args.fills} fills, {len(pdf)} bytes, renders in {local_render:.2f} s here",
        flush=True,
    )

    name = f"noisy_{os.getpid()}_{random.randrange(16**6):06x}"
    database_url = f"{args.postgres}/{name}"
    await create_database(args.postgres, name)
    cleanup.append(("database", name))
    env = server_env(args.source, database_url, workdir)
    await asyncio.to_thread(migrate, env, workdir, args.source)
    noisy_key = await asyncio.to_thread(create_key, env, workdir, "noisy")
    quiet_key = await asyncio.to_thread(create_key, env, workdir, "quiet")

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = workdir / "server.log"
    server = start_server(env, workdir, port, log)
    cleanup.append(("server", server))
    await wait_until_up(base_url, server, log)

    timeout = httpx.Timeout(TIMEOUT)
    limits = httpx.Limits(max_connections=max(args.clients, args.renders, 8) + 4)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as quiet_http,
        httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as noisy_http,
    ):
        ids = await seed_customers(quiet_http, quiet_key, args.customers)
        queue = await upload_pdfs(noisy_http, noisy_key, args.fills, args.copies)
        print(f"seeded {len(ids)} quiet customers, uploaded {len(queue)} slow PDFs", flush=True)
        # Warm up the quiet group's connections and the server's first-request costs.
        await asyncio.gather(
            *(
                quiet_http.get("/api/1/customer?limit=20", headers={"API-Key": quiet_key})
                for _ in range(args.clients)
            )
        )

        noise_started = time.perf_counter()
        stalled: list[Stalled] = []
        cleanup.append(("stalled", stalled))
        for number in range(args.stalled):
            stalled.append(await open_stalled_upload(port, noisy_key, number, noise_started))
        renders, stop = Renders(), asyncio.Event()
        render_tasks = [
            asyncio.create_task(render_client(noisy_http, noisy_key, queue, renders, stop))
            for _ in range(args.renders)
        ]
        quiet_tasks: list[asyncio.Task] = []
        try:
            await asyncio.sleep(1.0)  # let the noise take hold
            print(
                f"noise on: {args.stalled} stalled uploads, {args.renders} render clients; "
                f"quiet group runs for {args.duration:g} s",
                flush=True,
            )
            samples: list[Sample] = []
            quiet_started = time.perf_counter()
            until = quiet_started + args.duration
            quiet_tasks = [
                asyncio.create_task(quiet_client(quiet_http, quiet_key, ids, until, samples))
                for _ in range(args.clients)
            ]
            await asyncio.gather(*quiet_tasks)
            quiet_seconds = time.perf_counter() - quiet_started
        finally:
            # Stop every client before the HTTP clients close, however the run ends.
            stop.set()
            for task in render_tasks + quiet_tasks:
                task.cancel()
            await asyncio.gather(*render_tasks, *quiet_tasks, return_exceptions=True)
        print()
        logged = server_errors(log)
        report(
            args,
            samples,
            quiet_seconds,
            renders,
            stalled,
            args.fills,
            len(pdf),
            local_render,
            logged,
        )


async def clean_up(cleanup: list, postgres: str) -> None:
    """Undo what was set up, last first; every step is tried whatever the others do."""
    for kind, thing in reversed(cleanup):
        try:
            if kind == "stalled":
                close_stalled(thing)
            elif kind == "server":
                await asyncio.to_thread(stop_server, thing)
            elif kind == "database":
                await drop_database(postgres, thing)
        except Exception as exc:  # report it and go on cleaning
            print(f"cleanup of {kind} failed: {exc!r}", file=sys.stderr)


async def main_async(args: argparse.Namespace) -> None:
    cleanup: list = []
    with tempfile.TemporaryDirectory(prefix="customer-api-noisy-") as tmp:
        try:
            await run(args, Path(tmp), cleanup)
        finally:
            await asyncio.shield(clean_up(cleanup, args.postgres))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=SOURCE,
        help="the customer_api source tree to serve (put first on PYTHONPATH)",
    )
    parser.add_argument("--stalled", type=int, default=50, help="stalled uploads kept open")
    parser.add_argument("--renders", type=int, default=10, help="concurrent render clients")
    parser.add_argument("--clients", type=int, default=16, help="concurrent quiet clients")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds the quiet run lasts")
    parser.add_argument("--customers", type=int, default=200, help="the quiet group's customers")
    parser.add_argument(
        "--copies", type=int, default=60, help="slow PDFs uploaded (each is rendered at most once)"
    )
    parser.add_argument(
        "--fills", type=int, default=30000, help="full-page filled rectangles in the slow PDF"
    )
    parser.add_argument(
        "--postgres",
        default=POSTGRES,
        help="Postgres server URL without a database; a scratch one is made",
    )
    args = parser.parse_args()
    args.source = args.source.resolve()
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
