"""The embedded default (SQLite) under concurrent writers: latency, errors, 'database is locked'.

    python bench/sqlite_writes.py                                  # this tree, 16 writers, 20 s
    python bench/sqlite_writes.py --workers 2
    python bench/sqlite_writes.py --source /path/to/other/src --clients 16 --duration 20

Makes a temporary folder and starts ``python -m customer_api serve --port P [--workers N]`` in
it, with no ``CUSTOMER_API_*`` setting but ``CUSTOMER_API_LOG_LEVEL=warning`` and the rate limits
off (the load would spend any key's budget in seconds): the server runs on
its default SQLite database, ``./data/customer-api.db`` in that folder. ``--source DIR`` goes
first on ``PYTHONPATH``, and the script checks that ``customer_api`` is imported from there. The
key the first start prints is used (or, failing that, one from ``customer-api keys create``).

It seeds ``--customers`` customers (200, two projects each), then runs for ``--duration``
seconds, each client with its own HTTP/1.1 connection (httpx, 30 s timeout):

- ``--clients`` writers (16), each in a loop: ``POST /api/1/customer`` (a new customer number,
  two inline ``customerProjects``), ``PUT /api/1/customer/{id}`` (a new phone for a seeded
  customer picked at random) or ``DELETE /api/1/customer/{id}`` (a customer that writer made
  earlier), 40/40/20;
- ``--readers`` readers (4), each alternating ``GET /api/1/customer/{id}`` (a seeded customer)
  and ``GET /api/1/customer?limit=50``.

Every request's latency and status is recorded. It prints writes/s and reads/s, p50/p95/p99/max
per kind of request, the answers other than 2xx by status, whether any answer body or the
server's stderr says "database is locked", a check that the customers left match the 2xx answers,
and the goal: with 16 writing clients, writes' p99 under 250 ms and no "database is locked".
The server is stopped and the folder removed however the run ends.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SOURCE = Path(__file__).resolve().parents[1] / "src"
KEY_PATTERN = re.compile(r"cak_[A-Za-z0-9_-]{43}")
LOCKED = "database is locked"
TIMEOUT = 30.0
GOAL_CLIENTS = 16
GOAL_P99_MS = 250.0
PROJECTS = [{"name": "Floor installation"}, {"name": "General maintenance"}]
# A writer's next request: POST below the first bound, PUT below the second, else DELETE.
POST_SHARE, PUT_SHARE = 0.4, 0.8

POST, PUT, DELETE = (
    "POST /api/1/customer",
    "PUT /api/1/customer/{id}",
    "DELETE /api/1/customer/{id}",
)
GET_ONE, GET_LIST = "GET /api/1/customer/{id}", "GET /api/1/customer?limit=50"
WRITES, READS = (POST, PUT, DELETE), (GET_ONE, GET_LIST)


# -- the server ------------------------------------------------------------------------------


@dataclass
class Server:
    """The server process and the temporary folder it runs in."""

    folder: Path
    process: subprocess.Popen | None = None

    @property
    def stdout(self) -> Path:
        return self.folder / "server.stdout"

    @property
    def stderr(self) -> Path:
        return self.folder / "server.stderr"

    def output(self) -> str:
        return read(self.stdout)

    def errors(self) -> str:
        return read(self.stderr)


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def server_env(source: Path, folder: Path) -> dict[str, str]:
    """The environment as it is, without any ``CUSTOMER_API_*`` setting (so the defaults apply)
    but the log level and the rate limits (off), and with ``source`` first on ``PYTHONPATH``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOMER_API_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["CUSTOMER_API_LOG_LEVEL"] = "warning"
    env["CUSTOMER_API_RATE_LIMIT_PER_KEY"] = env["CUSTOMER_API_RATE_LIMIT_PER_GROUP"] = "0"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env["TMPDIR"] = str(folder / "tmp")  # whatever the server makes there goes with the folder
    return env


def run_python(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run the interpreter with ``args`` and return its stdout (raising with stderr on failure)."""
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def check_source(env: dict[str, str], cwd: Path, source: Path) -> Path:
    code = "import customer_api; print(customer_api.__file__)"
    imported = Path(run_python(["-c", code], env, cwd).strip().splitlines()[-1]).resolve()
    if not imported.is_relative_to(source):
        raise RuntimeError(f"customer_api is imported from {imported}, not from {source}")
    return imported


def create_key(env: dict[str, str], cwd: Path) -> str:
    out = run_python(["-m", "customer_api", "keys", "create", "--group", "bench"], env, cwd)
    lines = out.strip().splitlines()
    if not lines or not KEY_PATTERN.fullmatch(lines[-1].strip()):
        raise RuntimeError(f"no key on the last line of keys create:\n{out}")
    return lines[-1].strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(server: Server, env: dict[str, str], port: int, workers: int) -> None:
    command = [sys.executable, "-m", "customer_api", "serve", "--port", str(port)]
    if workers != 1:
        command += ["--workers", str(workers)]
    with server.stdout.open("wb") as out, server.stderr.open("wb") as err:
        # Its own process group, so that workers left behind can be stopped with it.
        server.process = subprocess.Popen(
            command, env=env, cwd=server.folder, stdout=out, stderr=err, start_new_session=True
        )


def tail(server: Server) -> str:
    return f"stdout:\n{server.output()[-2000:]}\nstderr:\n{server.errors()[-3000:]}"


async def wait_until_up(base_url: str, server: Server, seconds: float = 180.0) -> None:
    assert server.process is not None
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=5.0) as client:
        while time.perf_counter() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited ({server.process.returncode}):\n{tail(server)}"
                )
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{base_url}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the server did not come up in {seconds:g} s:\n{tail(server)}")


def stop_server(server: Server) -> None:
    """SIGTERM, SIGKILL to its process group if it has not stopped after a while; then any
    worker left in the group is killed too. Safe to call more than once."""
    process = server.process
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


# -- the clients -----------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    outcome: str  # the status code, "timeout", or the transport error's name
    seconds: float

    @property
    def ok(self) -> bool:
        return self.outcome.isdigit() and 200 <= int(self.outcome) < 300


@dataclass
class Record:
    samples: list[Sample] = field(default_factory=list)
    locked_bodies: int = 0  # answers whose body says "database is locked"

    async def request(self, client: httpx.AsyncClient, kind: str, method: str, url: str, **kw):
        """One request, recorded; the response, or None when there was none."""
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kw)
        except httpx.TimeoutException:
            self.samples.append(Sample(kind, "timeout", time.perf_counter() - started))
            return None
        except httpx.TransportError as exc:
            self.samples.append(Sample(kind, type(exc).__name__, time.perf_counter() - started))
            await asyncio.sleep(0.05)  # a server gone away is not hammered in a tight loop
            return None
        self.samples.append(Sample(kind, str(response.status_code), time.perf_counter() - started))
        if LOCKED in response.text.lower():
            self.locked_bodies += 1
        return response


def new_client(base_url: str, key: str, connections: int = 1) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"API-Key": key},
        timeout=httpx.Timeout(TIMEOUT),
        limits=httpx.Limits(max_connections=connections),
        http1=True,
        http2=False,
    )


def customer_body(writer: int, number: int) -> dict:
    return {
        "name": f"Writer {writer} customer {number}",
        "customerNumber": f"W{writer:02d}-{number:07d}",
        "customerProjects": PROJECTS,
    }


async def seed(base_url: str, key: str, count: int) -> list[int]:
    gate = asyncio.Semaphore(8)
    async with new_client(base_url, key, connections=8) as client:

        async def create(i: int) -> int:
            async with gate:
                body = {"name": f"Seeded customer {i}", "customerNumber": f"S-{i:05d}"}
                response = await client.post(
                    "/api/1/customer", json={**body, "customerProjects": PROJECTS}
                )
                response.raise_for_status()
                return response.json()["id"]

        return await asyncio.gather(*(create(i) for i in range(count)))


@dataclass
class Tally:
    """What the 2xx answers say about how many customers there should be."""

    created: int = 0
    deleted: int = 0


async def writer(
    number: int,
    base_url: str,
    key: str,
    seeded: list[int],
    until: float,
    record: Record,
    tally: Tally,
) -> None:
    rng = random.Random(number)
    mine: list[int] = []
    made = 0
    async with new_client(base_url, key) as client:
        await client.get("/health")  # open the connection before the clock runs
        while time.perf_counter() < until:
            choice = rng.random()
            if choice < POST_SHARE or not mine:
                made += 1
                body = customer_body(number, made)
                response = await record.request(client, POST, "POST", "/api/1/customer", json=body)
                if response is not None and response.is_success:
                    mine.append(response.json()["id"])
                    tally.created += 1
            elif choice < PUT_SHARE:
                phone = f"+46 8 {rng.randrange(10**6):06d}"
                url = f"/api/1/customer/{rng.choice(seeded)}"
                await record.request(client, PUT, "PUT", url, json={"phone": phone})
            else:
                victim = mine.pop(rng.randrange(len(mine)))
                url = f"/api/1/customer/{victim}"
                response = await record.request(client, DELETE, "DELETE", url)
                if response is not None and response.is_success:
                    tally.deleted += 1


async def reader(
    number: int, base_url: str, key: str, seeded: list[int], until: float, record: Record
) -> None:
    rng = random.Random(1000 + number)
    async with new_client(base_url, key) as client:
        await client.get("/health")
        one = number % 2 == 0
        while time.perf_counter() < until:
            if one:
                url = f"/api/1/customer/{rng.choice(seeded)}"
                await record.request(client, GET_ONE, "GET", url)
            else:
                await record.request(client, GET_LIST, "GET", "/api/1/customer?limit=50")
            one = not one


async def count_customers(base_url: str, key: str) -> int:
    total, offset = 0, 0
    async with new_client(base_url, key) as client:
        while True:
            response = await client.get(f"/api/1/customer?limit=1000&offset={offset}")
            response.raise_for_status()
            page = response.json() if response.status_code == 200 else []
            total += len(page)
            if len(page) < 1000:
                return total
            offset += 1000


# -- the report ------------------------------------------------------------------------------


@dataclass
class Result:
    imported: Path
    key_from: str
    seeded: int
    seconds: float
    record: Record
    expected: int
    counted: int


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.4999))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_row(name: str, samples: list[Sample]) -> tuple[str, float]:
    values = sorted(s.seconds * 1000 for s in samples)
    p99 = percentile(values, 0.99)
    failed = sum(not s.ok for s in samples)
    cells = [percentile(values, q) for q in (0.50, 0.95)] + [
        p99,
        values[-1] if values else float("nan"),
    ]
    row = f"  {name:<32} {len(samples):>7} " + " ".join(f"{c:>8.1f}" for c in cells)
    return f"{row} {failed:>8}", p99


def report(args: argparse.Namespace, result: Result, stderr: str) -> bool:
    samples = result.record.samples
    writes = [s for s in samples if s.kind in WRITES]
    reads = [s for s in samples if s.kind in READS]
    seconds = result.seconds
    print(f"source            {result.imported.parent} (customer_api imported from there)")
    workers = f"{args.workers} worker{'s' if args.workers != 1 else ''}"
    print(f"server            customer-api serve, {workers}, SQLite ./data/customer-api.db")
    print(f"api key           {result.key_from}")
    print(
        f"run               {args.clients} writers + {args.readers} readers for "
        f"{args.duration:g} s (last answer after {seconds:.1f} s), {result.seeded} seeded customers"
    )
    ok_writes = sum(s.ok for s in writes)
    print(
        f"writes            {len(writes)} requests, {len(writes) / seconds:.1f}/s "
        f"({ok_writes / seconds:.1f}/s answered 2xx)"
    )
    print(
        f"reads             {len(reads)} requests, {len(reads) / seconds:.1f}/s "
        f"({sum(s.ok for s in reads) / seconds:.1f}/s answered 2xx)"
    )
    print()
    header = " ".join(f"{h:>8}" for h in ("p50 ms", "p95 ms", "p99 ms", "max ms", "non-2xx"))
    print(f"  {'request':<32} {'n':>7} {header}")
    for kind in WRITES:
        print(latency_row(kind, [s for s in writes if s.kind == kind])[0])
    row, write_p99 = latency_row("all writes", writes)
    print(row)
    for kind in READS:
        print(latency_row(kind, [s for s in reads if s.kind == kind])[0])
    print(latency_row("all reads", reads)[0])
    print()
    failed = Counter(s.outcome for s in samples if not s.ok)
    print(
        f"non-2xx           {sum(failed.values())}"
        + (f" {dict(failed.most_common())}" if failed else "")
    )
    for kind in (*WRITES, *READS):
        ours = Counter(s.outcome for s in samples if s.kind == kind and not s.ok)
        if ours:
            print(f"  {kind:<32} {dict(ours.most_common())}")
    locked_lines = [line for line in stderr.splitlines() if LOCKED in line.lower()]
    locked = bool(result.record.locked_bodies or locked_lines)
    print(
        f"locked            {'YES' if locked else 'no'}: '{LOCKED}' in "
        f"{result.record.locked_bodies} answer bodies, {len(locked_lines)} lines of the server's "
        "stderr"
    )
    print(f"server stderr     {len(stderr.splitlines())} lines")
    for line, count in logged_errors(stderr).most_common(5):
        print(f"  {count:>5} x {line}")
    match = "OK" if result.counted == result.expected else "MISMATCH"
    print(
        f"customers left    {result.counted} active, {result.expected} expected from the 2xx "
        f"answers (seeded + created - deleted): {match}"
    )
    print()
    met = bool(writes) and write_p99 < GOAL_P99_MS and not locked
    clients_note = "" if args.clients == GOAL_CLIENTS else f", run with {args.clients} clients"
    print(
        f"goal              {GOAL_CLIENTS} writing clients: p99 under {GOAL_P99_MS:g} ms, "
        f"no '{LOCKED}': {'MET' if met else 'NOT MET'} "
        f"(writes p99 {write_p99:.1f} ms, '{LOCKED}' {'seen' if locked else 'not seen'}"
        f"{clients_note})"
    )
    return met


_ID_IN_PATH = re.compile(r"(?<!/api)/(?:\d+|[0-9a-f]{8}-[0-9a-f-]{27})(?=[/\s?\"]|$)")


def logged_errors(stderr: str) -> Counter:
    """The server's warnings and errors, grouped: the message and, for an exception, the last
    line of its traceback; lines that are not JSON are taken as they are."""
    found: Counter = Counter()
    for line in stderr.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if isinstance(entry, dict):
            what = f"{entry.get('level', '?')} {entry.get('message', '')}"
            traceback = str(entry.get("exc_info") or "").strip()
            if traceback:
                what += " | " + traceback.splitlines()[-1]
        elif line.strip() and not line.startswith((" ", "Traceback")):
            what = line.strip()
        else:
            continue
        what = what.split(" (Background on this error")[0]
        found[_ID_IN_PATH.sub("/{id}", what)[:160]] += 1
    return found


# -- the run ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace, server: Server) -> Result:
    (server.folder / "tmp").mkdir()
    env = server_env(args.source, server.folder)
    imported = await asyncio.to_thread(check_source, env, server.folder, args.source)
    print(f"customer_api from {imported}", flush=True)

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    start_server(server, env, port, args.workers)
    await wait_until_up(base_url, server)
    database = server.folder / "data" / "customer-api.db"
    if not database.exists():
        raise RuntimeError(f"the server is up but {database} does not exist:\n{tail(server)}")
    found = KEY_PATTERN.search(server.output())
    if found:
        key, key_from = found.group(0), "the one the first start printed"
    else:
        key, key_from = await asyncio.to_thread(create_key, env, server.folder), "keys create"

    seeded = await seed(base_url, key, args.customers)
    print(
        f"server up on port {port} ({args.workers} worker(s)); seeded {len(seeded)} customers; "
        f"running {args.clients} writers and {args.readers} readers for {args.duration:g} s",
        flush=True,
    )
    record, tally = Record(), Tally()
    started = time.perf_counter()
    until = started + args.duration
    tasks = [
        asyncio.create_task(writer(i, base_url, key, seeded, until, record, tally))
        for i in range(args.clients)
    ] + [
        asyncio.create_task(reader(i, base_url, key, seeded, until, record))
        for i in range(args.readers)
    ]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    seconds = time.perf_counter() - started
    counted = await count_customers(base_url, key)
    expected = len(seeded) + tally.created - tally.deleted
    return Result(imported, key_from, len(seeded), seconds, record, expected, counted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=SOURCE,
        help="the customer_api source tree to serve (put first on PYTHONPATH)",
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent writing clients")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds the run lasts")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--readers", type=int, default=4, help="concurrent reading clients")
    parser.add_argument("--customers", type=int, default=200, help="customers seeded first")
    args = parser.parse_args()
    args.source = args.source.resolve()

    def terminated(_signum, _frame) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, terminated)
    server = Server(Path(tempfile.mkdtemp(prefix="customer-api-sqlite-writes-")))
    try:
        result = asyncio.run(run(args, server))
        stop_server(server)  # before reading its stderr, so that every line is in
        print()
        report(args, result, server.errors())
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        try:
            stop_server(server)
        finally:
            shutil.rmtree(server.folder, ignore_errors=True)


if __name__ == "__main__":
    main()
