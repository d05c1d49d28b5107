"""Search lag: from the 2xx of a write to Elasticsearch acknowledging the bulk that carries it.

    python bench/search_lag.py --postgres postgresql://postgres@127.0.0.1:5432/scratch

Runs the real thing: ``--apps`` processes of ``customer-api serve`` (their in-process indexer
off) and ``--indexers`` processes of ``customer-api indexer`` on one Postgres database (migrated
down to nothing and up again: give it a scratch database), in front of osmem-server (a real
engine speaking Elasticsearch's API, see tests/search/engine.py) behind the test suite's
media-type shim. The shim also notes when the engine answers each bulk request, and which
customers it carried. The load creates ``--writes`` customers at ``--rate`` per second, spread
over the app processes; a customer's lag is the engine's answer to the first bulk carrying it
minus the moment its 2xx arrived (it can be below zero: the commit precedes the answer, and the
indexer may be quicker than the HTTP response). Search sees the change one refresh interval
later (1 s by default in Elasticsearch), which this bench does not add.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from uuid import uuid4

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from osmem_server import OsmemServer  # noqa: E402
from tests.live_server import free_port  # noqa: E402
from tests.search.engine import MediaTypeShim  # noqa: E402

from customer_api.auth import service as auth_service  # noqa: E402
from customer_api.config import async_database_url  # noqa: E402
from customer_api.core import migrations  # noqa: E402
from customer_api.core.db import Database  # noqa: E402


class BulkClock:
    """When the engine answered the first bulk request carrying each customer."""

    def __init__(self) -> None:
        self.acknowledged: dict[int, float] = {}
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str, body: bytes | None, status: int, _: bytes) -> None:
        if not path.split("?")[0].endswith("/_bulk") or status != 200 or not body:
            return
        now = time.time()
        ids = []
        for line in body.splitlines():
            action = json.loads(line)
            meta = next(iter(action.values())) if len(action) == 1 else None
            if isinstance(meta, dict) and "_id" in meta:
                ids.append(int(meta["_id"]))
        with self.lock:
            for customer_id in ids:
                self.acknowledged.setdefault(customer_id, now)


def _environment(settings: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOMER_API_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PYTHONPATH"] = str(ROOT / "src")
    env.update({f"CUSTOMER_API_{name}": value for name, value in settings.items()})
    return env


def _start(args: list[str], settings: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "customer_api", *args],
            env=_environment(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
        )


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not healthy:\n{log.read_text()}")


async def _create_key(url: str) -> str:
    database = Database(async_database_url(url))
    try:
        async with database.sessions() as session, session.begin():
            _, plain = await auth_service.create_key(session, group_name="bench")
            return plain
    finally:
        await database.dispose()


async def _wait_listening(url: str, indexers: int) -> None:
    """Until every indexer LISTENs (started on a busy machine, an indexer takes a while)."""
    database = Database(async_database_url(url))
    statement = text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'")
    try:
        for _ in range(600):
            async with database.sessions() as session:
                if await session.scalar(statement) >= indexers:
                    return
            await asyncio.sleep(0.1)
        raise RuntimeError("the indexers never started listening")
    finally:
        await database.dispose()


async def _load(
    apps: list[str], key: str, writes: int, rate: float
) -> tuple[dict[int, float], list[float]]:
    """Create ``writes`` customers at ``rate`` per second; the 2xx moment of each, and how long
    each write took (ms)."""
    answered: dict[int, float] = {}
    durations: list[float] = []
    clients = [
        httpx.AsyncClient(base_url=app, headers={"API-Key": key}, timeout=30) for app in apps
    ]

    async def write(number: int) -> None:
        client = clients[number % len(clients)]
        sent = time.time()
        response = await client.post("/api/1/customer", json={"name": f"Lag Test {number}"})
        moment = time.time()
        response.raise_for_status()
        answered[response.json()["id"]] = moment
        durations.append((moment - sent) * 1000)

    started = time.monotonic()
    tasks = []
    for number in range(writes):
        await asyncio.sleep(max(0.0, started + number / rate - time.monotonic()))
        tasks.append(asyncio.create_task(write(number)))
    await asyncio.gather(*tasks)
    for client in clients:
        await client.aclose()
    return answered, durations


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", required=True, help="a scratch database's URL")
    parser.add_argument("--writes", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=50.0, help="writes per second")
    parser.add_argument("--apps", type=int, default=2)
    parser.add_argument("--indexers", type=int, default=2)
    options = parser.parse_args()

    migrations.downgrade(options.postgres, "base")
    migrations.upgrade(options.postgres)
    key = asyncio.run(_create_key(options.postgres))
    clock = BulkClock()
    workdir = Path(tempfile.mkdtemp(prefix="search-lag-"))
    with ExitStack() as stack:
        engine = OsmemServer.start(japanese=False)
        stack.callback(engine.close)
        shim = MediaTypeShim(engine.url, observer=clock)
        stack.callback(shim.close)
        settings = {
            "DATABASE_URL": options.postgres,
            "ELASTICSEARCH_URL": shim.url,
            "ELASTICSEARCH_INDEX": f"lag-{uuid4().hex}",
            "INDEXER_IN_PROCESS": "false",
            "LOG_LEVEL": "warning",
            "RATE_LIMIT_PER_KEY": "",  # the load is one key's: not what is measured here
            "RATE_LIMIT_PER_GROUP": "",
            "VAULT_DIR": str(workdir / "vault"),
        }
        processes = []
        apps = []
        for number in range(options.apps):
            port = free_port()
            log = workdir / f"app-{number}.log"
            process = _start(["serve", "--port", str(port)], settings, log)
            processes.append(process)
            apps.append(f"http://127.0.0.1:{port}")
            _wait_healthy(apps[-1], process, log)
        for number in range(options.indexers):
            processes.append(_start(["indexer"], settings, workdir / f"indexer-{number}.log"))
        for process in processes:
            stack.callback(_stop, process)
        asyncio.run(_wait_listening(options.postgres, options.indexers))
        asyncio.run(_load(apps, key, 20, options.rate))  # warm-up, not measured

        answered, durations = asyncio.run(_load(apps, key, options.writes, options.rate))
        deadline = time.monotonic() + 30
        while set(answered) - set(clock.acknowledged) and time.monotonic() < deadline:
            time.sleep(0.05)
        missing = set(answered) - set(clock.acknowledged)
        lags = [
            (clock.acknowledged[i] - moment) * 1000
            for i, moment in answered.items()
            if i not in missing
        ] or [0.0]

    print(
        f"{options.writes} writes at {options.rate:g}/s, {options.apps} apps, "
        f"{options.indexers} indexers (Postgres, osmem-server behind the shim)"
    )
    print(
        f"lag from 2xx to bulk acknowledged, ms: min {min(lags):.1f}  "
        f"p50 {statistics.median(lags):.1f}  p90 {_percentile(lags, 0.9):.1f}  "
        f"p99 {_percentile(lags, 0.99):.1f}  max {max(lags):.1f}"
    )
    print(
        f"the writes themselves, ms: p50 {statistics.median(durations):.1f}  "
        f"p99 {_percentile(durations, 0.99):.1f}"
    )
    print(f"never acknowledged within 30 s: {len(missing)}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


if __name__ == "__main__":
    main()
