"""Requests per second of the server against a hand-written ceiling, path by path.

    python bench/request_path.py                          # this tree, Postgres, 1 worker
    python bench/request_path.py --workers 2
    python bench/request_path.py --database sqlite        # the server on a SQLite file
    python bench/request_path.py --source /path/to/other/src --duration 8 --rounds 2
    python bench/request_path.py --rate-limits memory      # + the server with rate limits on
    python bench/request_path.py --rate-limits redis --paths detail,create

Makes a scratch Postgres database (``bench_rp_<pid>``, dropped afterwards), migrates it with the
measured source's migrations, creates two groups with a key each, and seeds 1,000 customers in
the first (two projects each, a quarter with two link documents and a quarter with one, one in
twenty inactive) and 200 in the second. Then it starts ``customer-api serve`` (from ``--source``,
with ``--workers N``) and ``bench/ceiling_server.py`` (Starlette, asyncpg and orjson under
uvicorn with as many workers), checks that the two answer the same JSON on every measured path
(and write the same search row), and runs ``wrk -t1 -c32`` on each path, server and ceiling in
turn, each round starting with the other (A B, B A, ...), after a short warm-up of each.

With ``--database sqlite`` the server runs on a SQLite file seeded the same way (same ids,
uuids and timestamps), and is compared against the same Postgres ceiling on a Postgres copy of
the data: the ratio then says how far the server on SQLite is from the best that the
Postgres path can do, not from a SQLite ceiling.

With ``--rate-limits memory`` (or ``redis``) a second server runs beside the first, the same
but for rate limits per key and per group, counted in process (or in the Redis at
``--redis-url``), with budgets too large to refuse anything: the requests take the same path as
under real budgets. It is measured in turn with the others, each round starting with the next
of the three (A B C, B C A, C A B ...), and the table adds its figures and what the limits
cost: in requests per second, and in CPU time per request (the user and system time of the
server's processes over the requests wrk counted), which moves far less than throughput when
other work shares the machine. The first server always runs without rate limits: the bench's
load would spend any real budget in a second.

Client, servers and Postgres share the machine: the A B alternation spreads other load over
both, and the table shows medians.
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

BENCH = Path(__file__).resolve().parent
SOURCE = BENCH.parent / "src"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
WRK = shutil.which("wrk") or "/usr/bin/wrk"

GROUP = "bench"
# Budgets the bench never reaches, so that every request is counted and none refused.
NEVER_SPENT = "1000000000/minute"
OTHER_GROUP = "bench-other"
PROJECT_NAMES = ("Floor installation", "General maintenance")
POST_BODY_LUA = """
local key, prefix, counter = "", "", 0
function init(args)
  key, prefix = args[1], args[2]
end
function request()
  counter = counter + 1
  local body = '{"name": "Bench Customer ' .. counter .. '", "customerNumber": "' .. prefix
    .. '-' .. counter .. '", "city": "Uppsala", "phone": "+46 18 123 45 67", '
    .. '"customerProjects": [{"name": "Floor installation"}, {"name": "General maintenance"}]}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["API-Key"] = key}, body)
end
"""
# The same creates, each with an Idempotency-Key of its own (the first request of each key).
# Their customer numbers are their own (the plain creates used the same tags).
KEYED_POST_BODY_LUA = POST_BODY_LUA.replace(
    '["API-Key"] = key}', '["API-Key"] = key, ["Idempotency-Key"] = prefix .. "-" .. counter}'
).replace(".. prefix\n", '.. "K" .. prefix\n')


class BenchFailed(RuntimeError):
    pass


# --- seeding ---

_groups = sa.table("groups", sa.column("id", sa.Integer), sa.column("name", sa.String))
_customers = sa.table(
    "customers",
    *(
        sa.column(name, type_)
        for name, type_ in (
            ("id", sa.Integer),
            ("uuid", sa.Uuid),
            ("group_id", sa.Integer),
            ("name", sa.String),
            ("customer_number", sa.String),
            ("organization_number", sa.String),
            ("email", sa.String),
            ("phone", sa.String),
            ("mobile", sa.String),
            ("address", sa.String),
            ("postal_code", sa.String),
            ("city", sa.String),
            ("country", sa.String),
            ("latitude", sa.Float),
            ("longitude", sa.Float),
            ("notes", sa.Text),
            ("organization", sa.String),
            ("active", sa.Boolean),
            ("created", sa.DateTime(timezone=True)),
            ("modified", sa.DateTime(timezone=True)),
        )
    ),
)
_projects = sa.table(
    "customer_projects",
    sa.column("uuid", sa.Uuid),
    sa.column("customer_id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("active", sa.Boolean),
)
_documents = sa.table(
    "documents",
    *(
        sa.column(name, type_)
        for name, type_ in (
            ("id", sa.Integer),
            ("uuid", sa.Uuid),
            ("group_id", sa.Integer),
            ("external_url", sa.String),
            ("file_name", sa.String),
            ("mime_type", sa.String),
            ("description", sa.Text),
            ("internal", sa.Boolean),
            ("created", sa.DateTime(timezone=True)),
            ("modified", sa.DateTime(timezone=True)),
        )
    ),
)
_links = sa.table(
    "customer_documents",
    sa.column("customer_id", sa.Integer),
    sa.column("document_id", sa.Integer),
    sa.column("position", sa.Integer),
    sa.column("attached", sa.DateTime(timezone=True)),
)

CITIES = ("Uppsala", "Malmö", "Göteborg", "Stockholm", "Jönköping", "Umeå")
LAST_NAMES = ("Johansson", "Andersson", "Karlsson", "Nilsson", "Eriksson", "Lindqvist")
FIRST_NAMES = ("Anna", "Lars", "Eva", "Karin", "Per", "Åsa", "Björn")


def _moment(rng: random.Random, index: int) -> dt.datetime:
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return base + dt.timedelta(seconds=index * 37, milliseconds=rng.randrange(1000))


async def _seed_group(connection, rng: random.Random, group_id: int, count: int, tag: str) -> None:
    """``count`` customers in the group, deterministic for a given generator state."""
    rows = []
    for index in range(count):
        created = _moment(rng, index)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        rows.append(
            {
                "uuid": uuid.UUID(int=rng.getrandbits(128), version=4),
                "group_id": group_id,
                "name": f"{first} {last}" if index % 3 else f"{last} Bygg AB",
                "customer_number": f"{tag}-{index:05d}",
                "organization_number": f"556{index:06d}" if index % 3 == 0 else None,
                "email": f"{first.lower()}.{last.lower()}{index}@example.se",
                "phone": f"+46 18 {index:06d}",
                "mobile": f"070 {index:07d}" if index % 2 else None,
                "address": f"Storgatan {index % 90 + 1}",
                "postal_code": f"{75000 + index % 900}",
                "city": rng.choice(CITIES),
                "country": "Sweden",
                "latitude": round(55 + rng.random() * 14, 6) if index % 5 else None,
                "longitude": round(11 + rng.random() * 12, 6) if index % 5 else None,
                "notes": f'Gate code {index % 10000:04d}. Ring twice, it\'s the "red" door.'
                if index % 4 == 0
                else None,
                "organization": "Bench Org",
                "active": index % 20 != 19,
                "created": created,
                "modified": created + dt.timedelta(milliseconds=rng.randrange(10**8)),
            }
        )
    await connection.execute(sa.insert(_customers), rows)
    ids = dict(
        (
            await connection.execute(
                sa.select(_customers.c.customer_number, _customers.c.id).where(
                    _customers.c.group_id == group_id
                )
            )
        ).all()
    )
    projects, documents, links = [], [], []
    for index, row in enumerate(rows):
        customer_id = ids[row["customer_number"]]
        for name in PROJECT_NAMES if tag == "C" else PROJECT_NAMES[:1]:
            projects.append(
                {
                    "uuid": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "customer_id": customer_id,
                    "name": name,
                    "active": True,
                }
            )
        for position in range((2, 1, 0, 0)[index % 4] if tag == "C" else 0):
            document_uuid = uuid.UUID(int=rng.getrandbits(128), version=4)
            documents.append(
                {
                    "uuid": document_uuid,
                    "group_id": group_id,
                    "external_url": f"https://files.example.com/{document_uuid}/plan-{index}.pdf",
                    "file_name": f"plan-{index}-{position}.pdf",
                    "mime_type": "application/pdf",
                    "description": "Site plan" if position == 0 else None,
                    "internal": position == 1,
                    "created": row["created"],
                    "modified": row["modified"],
                }
            )
            links.append((customer_id, document_uuid, position, row["created"]))
    await connection.execute(sa.insert(_projects), projects)
    if documents:
        await connection.execute(sa.insert(_documents), documents)
        document_ids = dict(
            (
                await connection.execute(
                    sa.select(_documents.c.uuid, _documents.c.id).where(
                        _documents.c.group_id == group_id
                    )
                )
            ).all()
        )
        await connection.execute(
            sa.insert(_links),
            [
                {
                    "customer_id": customer_id,
                    "document_id": document_ids[document_uuid],
                    "position": position,
                    "attached": attached,
                }
                for customer_id, document_uuid, position, attached in links
            ],
        )


async def seed(url: str, customers: int) -> None:
    """The same rows, ids and uuids on any freshly migrated database with both groups' keys."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            groups = dict((await connection.execute(sa.select(_groups.c.name, _groups.c.id))).all())
            rng = random.Random(20261123)
            await _seed_group(connection, rng, groups[GROUP], customers, "C")
            await _seed_group(connection, rng, groups[OTHER_GROUP], customers // 5, "O")
    finally:
        await engine.dispose()


def async_url(url: str) -> str:
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url.removeprefix("sqlite:")
    return "postgresql+asyncpg:" + url.removeprefix("postgresql:")


# --- processes ---


@dataclass
class Target:
    """A server under test: how to reach it, with which key, and its process."""

    label: str
    port: int
    key: str
    process: subprocess.Popen | None = None
    log: Path | None = None
    results: dict[str, list["WrkResult"]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(source: Path, database_url: str, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(source),
        "CUSTOMER_API_DATABASE_URL": database_url,
        "CUSTOMER_API_VAULT_DIR": str(workdir / "vault"),
        "CUSTOMER_API_LOG_LEVEL": "warning",
        "CUSTOMER_API_RATE_LIMIT_PER_KEY": "",
        "CUSTOMER_API_RATE_LIMIT_PER_GROUP": "",
        "PYTHONUNBUFFERED": "1",
    }


def limited_env(env: dict[str, str], storage: str, redis_url: str) -> dict[str, str]:
    """The same server with rate limits on, counted in process or in Redis."""
    limited = {
        **env,
        "CUSTOMER_API_RATE_LIMIT_PER_KEY": NEVER_SPENT,
        "CUSTOMER_API_RATE_LIMIT_PER_GROUP": NEVER_SPENT,
    }
    limited.pop("CUSTOMER_API_REDIS_URL", None)
    if storage == "redis":
        limited["CUSTOMER_API_REDIS_URL"] = redis_url
        limited["CUSTOMER_API_REDIS_KEY_PREFIX"] = f"bench-rp-{os.getpid()}"
    return limited


def cli(env: dict[str, str], *args: str) -> str:
    """Run ``customer-api`` from the measured source; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "customer_api", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise BenchFailed(f"customer-api {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def prepare(env: dict[str, str], url: str, customers: int) -> tuple[str, str]:
    """Migrate, make both groups' keys, seed; the two keys."""
    cli(env, "migrate")
    key = cli(env, "keys", "create", "--group", GROUP).strip().splitlines()[-1]
    other = cli(env, "keys", "create", "--group", OTHER_GROUP).strip().splitlines()[-1]
    asyncio.run(seed(async_url(url), customers))
    return key, other


def start(target: Target, command: list[str], env: dict[str, str], workdir: Path) -> None:
    target.log = workdir / f"{target.label}.log"
    with target.log.open("w") as log:
        target.process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_until_up(target: Target, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.process.poll() is not None:
            raise BenchFailed(f"{target.label} exited:\n{target.log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            response = httpx.get(
                f"{target.base}/api/1/customer?limit=1", headers={"API-Key": target.key}
            )
            if response.status_code == 200:
                return
        time.sleep(0.2)
    raise BenchFailed(f"{target.label} did not come up:\n{target.log.read_text()[-3000:]}")


def stop(target: Target) -> None:
    """End the process group this script started for the target (the server and its workers)."""
    process = target.process
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


async def create_database(name: str) -> None:
    connection = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(name: str) -> None:
    connection = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


# --- the check that both answer the same ---


def _differences(left: Any, right: Any, where: str = "") -> list[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        found = [f"{where}.{k}: only in one" for k in left.keys() ^ right.keys()]
        for k in left.keys() & right.keys():
            found += _differences(left[k], right[k], f"{where}.{k}")
        return found
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return [f"{where}: {len(left)} items against {len(right)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(left, right, strict=True))
            for d in _differences(a, b, f"{where}[{i}]")
        ]
    if left != right or type(left) is not type(right):
        return [f"{where}: {left!r} against {right!r}"]
    return []


def _same(what: str, server: Any, ceiling: Any) -> None:
    found = _differences(server, ceiling)
    if found:
        raise BenchFailed(
            f"{what}: the ceiling does not answer what the server does:\n  "
            + "\n  ".join(found[:20])
        )


def _generated_removed(customer: dict[str, Any]) -> dict[str, Any]:
    """A created customer without what the server assigns (ids, uuids, times, the number)."""
    kept = {k: v for k, v in customer.items() if k not in ("id", "uuid", "created", "modified")}
    kept["customerNumber"] = None
    kept["customerProjects"] = [
        {k: v for k, v in project.items() if k not in ("id", "uuid")}
        for project in customer["customerProjects"]
    ]
    return kept


def get_json(target: Target, path: str) -> Any:
    response = httpx.get(target.base + path, headers={"API-Key": target.key})
    if response.status_code != 200:
        raise BenchFailed(f"{target.label} GET {path}: {response.status_code} {response.text}")
    return response.json()


def current_etag(target: Target, path: str) -> str:
    """The ETag of the server's answer (a source without ETags gets a tag that never matches)."""
    response = httpx.get(target.base + path, headers={"API-Key": target.key})
    return response.headers.get("etag", '"none"')


async def search_rows(url: str, ids: list[int]) -> list[tuple]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT customer_id, group_id, active, document::text FROM customer_search"
            " WHERE customer_id = ANY($1::int[]) ORDER BY customer_id",
            ids,
        )
        return [tuple(row) for row in rows]
    finally:
        await connection.close()


def check_answers(
    server: Target, ceiling: Target, detail_id: int, postgres_url: str, shared: bool
) -> None:
    """Fail loudly unless both answer the same documents (and write the same search row)."""
    page = get_json(server, "/api/1/customer?limit=100")
    _same("GET /api/1/customer?limit=100", page, get_json(ceiling, "/api/1/customer?limit=100"))
    if len(page) != 100 or not all(customer["active"] for customer in page):
        raise BenchFailed("the list is not a page of 100 active customers")
    with_documents = get_json(server, f"/api/1/customer/{detail_id}")
    if len(with_documents["documents"]) != 2 or len(with_documents["customerProjects"]) != 2:
        raise BenchFailed(f"customer {detail_id} should have two projects and two documents")
    for path in (
        f"/api/1/customer/{detail_id}",
        f"/api/1/customer/{detail_id + 1}",  # one document
        f"/api/1/customer/{detail_id + 2}",  # none
        f"/api/1/customer/{with_documents['uuid']}",
        "/api/1/customer?limit=7&offset=3&inactive",
    ):
        _same(f"GET {path}", get_json(server, path), get_json(ceiling, path))
    body = {
        "name": "  Åsa O'Brien-Lindqvist ",
        "city": "Malmö",
        "email": "asa.obrien@example.se",
        "notes": "Ring twice; the \\ key is under the mat. \uff26\uff55\uff4c\uff4c width \ufb01ne",
        "latitude": 55.6,
        "customerProjects": [{"name": "Kitchen renovation"}, {"name": "Heat pump"}],
    }
    created = {}
    # Different numbers with the same words ("check", "7"), so the search rows must be equal.
    numbers = {server.label: "CHECK-7", ceiling.label: "CHECK 7"}
    for target in (server, ceiling):
        response = httpx.post(
            target.base + "/api/1/customer",
            headers={"API-Key": target.key},
            json={**body, "customerNumber": numbers[target.label]},
        )
        if response.status_code != 200:
            raise BenchFailed(f"{target.label} POST: {response.status_code} {response.text}")
        created[target.label] = response.json()
    made, ceiling_made = created[server.label], created[ceiling.label]
    _same("POST /api/1/customer", _generated_removed(made), _generated_removed(ceiling_made))
    for customer in (made, ceiling_made):
        if (
            customer["created"] != customer["modified"]
            or abs(customer["created"] - time.time() * 1000) > 60_000
        ):
            raise BenchFailed(f"POST: created/modified are not now: {customer}")
    if shared:  # the server can read what the ceiling wrote, and wrote the same search row
        _same(
            "GET of the customer the ceiling created",
            get_json(server, f"/api/1/customer/{ceiling_made['id']}"),
            ceiling_made,
        )
        rows = asyncio.run(search_rows(postgres_url, [made["id"], ceiling_made["id"]]))
        if len(rows) != 2 or rows[0][1:] != rows[1][1:]:
            raise BenchFailed(f"the search rows differ:\n  {rows}")


# --- wrk ---


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    non_2xx: int
    socket_errors: str | None
    cpu_us_per_request: float = 0.0  # the server's processes' CPU time over requests answered


def group_cpu_seconds(group: int) -> float:
    """CPU time (user + system) used so far by the live processes of a process group: unlike
    requests per second, it hardly moves with what else the machine runs."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) == group:
                total += int(fields[11]) + int(fields[12])
    return total / tick


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def run_wrk(
    target: Target,
    path: str,
    seconds: int,
    connections: int,
    lua: Path | None,
    tag: str,
    headers: tuple[str, ...] = (),
) -> WrkResult:
    command = [WRK, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if lua is None:
        extra = [option for header in headers for option in ("-H", header)]
        command += ["-H", f"API-Key: {target.key}", *extra, target.base + path]
    else:
        command += ["-s", str(lua), target.base + path, "--", target.key, tag]
    cpu_before = group_cpu_seconds(target.process.pid)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    cpu = group_cpu_seconds(target.process.pid) - cpu_before
    if done.returncode:
        raise BenchFailed(f"wrk failed on {target.label} {path}:\n{done.stdout}{done.stderr}")
    output = done.stdout
    answered = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    if rate is None or p50 is None:
        raise BenchFailed(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:\s+(.*)", output)
    return WrkResult(
        float(rate.group(1)),
        _ms(p50.group(1)),
        int(non_2xx.group(1)) if non_2xx else 0,
        errors.group(1).strip() if errors else None,
        cpu / int(answered.group(1)) * 1e6 if answered and int(answered.group(1)) else 0.0,
    )


# --- the run ---


def describe_source(source: Path, env: dict[str, str]) -> str:
    where = subprocess.run(
        [sys.executable, "-c", "import customer_api; print(customer_api.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    revision = subprocess.run(
        ["git", "-C", str(source), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{where} (git {revision or 'unknown'})"


PATHS = (
    ("GET /api/1/customer/{id}", "detail"),
    ("GET /api/1/customer/{id}, If-None-Match", "detail-304"),
    ("GET /api/1/customer?limit=100", "list"),
    ("POST /api/1/customer", "create"),
    ("POST /api/1/customer, Idempotency-Key", "create-keyed"),
)


def run(args: argparse.Namespace) -> bool:
    source = Path(args.source).resolve()
    workdir = Path(tempfile.mkdtemp(prefix="bench-request-path-"))
    database = f"bench_rp_{os.getpid()}"
    postgres_url = f"{POSTGRES}/{database}"
    server_url = f"sqlite:///{workdir / 'bench.db'}" if args.database == "sqlite" else postgres_url
    server = Target("server", free_port(), "")
    ceiling = Target("ceiling", free_port(), "")
    limited = Target("limited", free_port(), "") if args.rate_limits != "off" else None
    targets = [target for target in (server, limited, ceiling) if target is not None]
    ok = True
    asyncio.run(create_database(database))
    try:
        env = server_env(source, server_url, workdir)
        print(f"source:   {describe_source(source, env)}")
        print(
            f"database: server on {args.database}, ceiling on postgres"
            + (
                " (a Postgres copy of the same rows)"
                if args.database == "sqlite"
                else " (the same one)"
            )
        )
        print(
            f"workers:  {args.workers} each; wrk -t1 -c{args.connections} -d{args.duration}s, "
            f"{args.rounds} rounds A B, {args.customers} customers"
        )
        if limited is not None:
            print(f"limits:   a second server with rate limits counted in {args.rate_limits}")
        print(f"started:  {time.strftime('%Y-%m-%d %H:%M:%S')}, load {_load()}")
        started = time.monotonic()
        server.key, _ = prepare(env, server_url, args.customers)
        if args.database == "sqlite":
            ceiling.key, _ = prepare(
                server_env(source, postgres_url, workdir), postgres_url, args.customers
            )
        else:
            ceiling.key = server.key
        start(
            server,
            [
                *(sys.executable, "-m", "customer_api", "serve"),
                *("--port", str(server.port), "--workers", str(args.workers)),
            ],
            env,
            workdir,
        )
        start(
            ceiling,
            [
                *(sys.executable, "-m", "uvicorn", "ceiling_server:app", "--app-dir", str(BENCH)),
                *("--host", "127.0.0.1", "--port", str(ceiling.port)),
                *("--workers", str(args.workers), "--no-access-log", "--log-level", "warning"),
                *("--loop", "uvloop", "--http", "httptools"),
            ],
            {**os.environ, "CEILING_DATABASE_URL": postgres_url},
            workdir,
        )
        if limited is not None:
            limited.key = server.key
            start(
                limited,
                [
                    *(sys.executable, "-m", "customer_api", "serve"),
                    *("--port", str(limited.port), "--workers", str(args.workers)),
                ],
                limited_env(env, args.rate_limits, args.redis_url),
                workdir,
            )
        for target in targets:
            wait_until_up(target)
        if limited is not None:
            check_limited(server, limited)
        first = get_json(server, "/api/1/customer?limit=1")[0]["id"]
        check_answers(server, ceiling, first, postgres_url, shared=args.database != "sqlite")
        print(f"ready in {time.monotonic() - started:.0f} s; both answer the same documents\n")

        lua = workdir / "post.lua"
        lua.write_text(POST_BODY_LUA)
        keyed_lua = workdir / "keyed-post.lua"
        keyed_lua.write_text(KEYED_POST_BODY_LUA)
        for title, name in PATHS:
            if name not in args.paths:
                continue
            path = {
                "detail": f"/api/1/customer/{first}",
                "detail-304": f"/api/1/customer/{first}",
                "list": "/api/1/customer?limit=100",
                "create": "/api/1/customer",
                "create-keyed": "/api/1/customer",
            }[name]
            script = {"create": lua, "create-keyed": keyed_lua}.get(name)
            headers = ()
            if name == "detail-304":
                headers = (f"If-None-Match: {current_etag(server, path)}",)
            for target in targets:
                run_wrk(
                    target,
                    path,
                    args.warmup,
                    args.connections,
                    script,
                    f"{target.label}-w",
                    headers,
                )
            for round_ in range(args.rounds):
                # Each round starts with the next target, so that none is always measured
                # right after the same one.
                for target in targets[round_ % len(targets) :] + targets[: round_ % len(targets)]:
                    result = run_wrk(
                        target,
                        path,
                        args.duration,
                        args.connections,
                        script,
                        f"{target.label}-{round_}",
                        headers,
                    )
                    target.results.setdefault(title, []).append(result)
                    flags = ""
                    if result.non_2xx and name != "detail-304":  # 304 is its answer
                        ok = False
                        flags += f"  {result.non_2xx} NON-2XX RESPONSES"
                    if result.socket_errors:
                        flags += f"  socket errors: {result.socket_errors}"
                    print(
                        f"{title:32} {target.label:8} round {round_ + 1}: "
                        f"{result.requests_per_second:8.0f} req/s, p50 {result.p50_ms:6.1f} ms, "
                        f"CPU {result.cpu_us_per_request:5.0f} µs/request" + flags,
                        flush=True,
                    )
        print()
        print_table(server, ceiling, limited, args)
        print(f"\nwhole run {time.monotonic() - started:.0f} s, load at the end {_load()}")
    finally:
        for target in targets:
            stop(target)
        asyncio.run(drop_database(database))
        shutil.rmtree(workdir, ignore_errors=True)
    if not ok:
        print("\nFAILED: some responses were not 2xx; the figures above do not count.")
    return ok


def _load() -> str:
    """The load averages: how busy the shared machine was."""
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def print_table(
    server: Target, ceiling: Target, limited: Target | None, args: argparse.Namespace
) -> None:
    database = "SQLite" if args.database == "sqlite" else "Postgres"
    print(f"server on {database}, ceiling on Postgres, {args.workers} worker(s) each")
    print()
    header = "| path | server req/s | ceiling req/s | ratio | server p50 ms | ceiling p50 ms |"
    rule = "|---|---:|---:|---:|---:|---:|"
    if limited is not None:
        header += (
            f" with limits ({args.rate_limits}) req/s | cost | server CPU µs/request"
            " | with limits CPU µs/request | CPU cost |"
        )
        rule += "---:|---:|---:|---:|---:|"
    print(header)
    print(rule)
    for title, _ in PATHS:
        if title not in server.results:
            continue
        mine = statistics.median(r.requests_per_second for r in server.results[title])
        best = statistics.median(r.requests_per_second for r in ceiling.results[title])
        mine_p50 = statistics.median(r.p50_ms for r in server.results[title])
        best_p50 = statistics.median(r.p50_ms for r in ceiling.results[title])
        row = (
            f"| `{title}` | {mine:.0f} | {best:.0f} | {mine / best:.2f} "
            f"| {mine_p50:.1f} | {best_p50:.1f} |"
        )
        if limited is not None:
            with_limits = statistics.median(r.requests_per_second for r in limited.results[title])
            cpu = statistics.median(r.cpu_us_per_request for r in server.results[title])
            cpu_limited = statistics.median(r.cpu_us_per_request for r in limited.results[title])
            row += (
                f" {with_limits:.0f} | {1 - with_limits / mine:+.1%} | {cpu:.0f} "
                f"| {cpu_limited:.0f} | {cpu_limited / cpu - 1:+.1%} |"
            )
        print(row)


def check_limited(server: Target, limited: Target) -> None:
    """The limited server counts requests (and the other does not)."""
    path = "/api/1/customer?limit=1"
    if "ratelimit" in httpx.get(server.base + path, headers={"API-Key": server.key}).headers:
        raise BenchFailed("the server without rate limits sends RateLimit fields")
    answer = httpx.get(limited.base + path, headers={"API-Key": limited.key})
    if "ratelimit" not in answer.headers:
        raise BenchFailed(
            "the server with rate limits sends no RateLimit field (is Redis up?):\n"
            + limited.log.read_text()[-3000:]
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes of each server")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds per path")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per server")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--source", default=str(SOURCE), help="the src/ directory to measure")
    parser.add_argument(
        "--rate-limits",
        choices=("off", "memory", "redis"),
        default="off",
        help="also measure the server with rate limits counted in process or in Redis",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--paths",
        default="detail,list,create",
        type=lambda text: set(text.split(",")),
        help="which paths to measure, of detail, detail-304 (with a current If-None-Match), "
        "list, create and create-keyed (each with an Idempotency-Key of its own)",
    )
    args = parser.parse_args()
    # A SIGTERM ends the run like Ctrl-C does: servers stopped, scratch database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        ok = run(args)
    except BenchFailed as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
