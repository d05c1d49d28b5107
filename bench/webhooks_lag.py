"""Webhook lag and throughput: from a change's 2xx to its event reaching a receiver.

    python bench/webhooks_lag.py --database postgresql://postgres@127.0.0.1:5432/scratch
    python bench/webhooks_lag.py --database sqlite
    python bench/webhooks_lag.py --database postgresql://... --dispatchers 2

Runs the real thing: ``customer-api serve`` (its in-process dispatcher on, unless
``--dispatchers`` N > 0 starts N ``customer-api webhooks`` processes instead) on a scratch
database (Postgres: migrated down to nothing and up again; sqlite: a temporary file), a
webhook subscribed to the customer channel, and a receiver on loopback (a threaded HTTP server
answering 200 at once) that notes when each ``customer.created`` arrives. The load creates
``--writes`` customers at ``--rate`` per second; a customer's lag is its event's arrival minus
the moment its POST's 2xx arrived. Then ``--burst`` customers are created as fast as 32
connections allow, and the deliveries per second over the burst are reported.
"""

import argparse
import asyncio
import json
import multiprocessing
import queue
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src"), str(ROOT / "bench")]

from search_lag import _create_key, _percentile, _start, _stop, _wait_healthy  # noqa: E402
from tests.live_server import free_port  # noqa: E402

from customer_api.core import migrations  # noqa: E402


def _receive(port: int, arrived: multiprocessing.Queue) -> None:
    """The receiver, in a process of its own (not competing with the load for a GIL): puts
    (customer id, arrival time) of each ``customer.created`` on ``arrived``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            now = time.time()
            payload = json.loads(body)
            if payload["type"] == "customer.created":
                arrived.put((payload["data"]["id"], now))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


class Arrivals:
    """When each customer's ``customer.created`` first arrived."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}
        self.queue: multiprocessing.Queue = multiprocessing.Queue()
        self.port = free_port()
        self.process = multiprocessing.Process(
            target=_receive, args=(self.port, self.queue), daemon=True
        )
        self.process.start()

    def collect(self) -> None:
        while True:
            try:
                customer_id, moment = self.queue.get_nowait()
            except queue.Empty:
                return
            self.at.setdefault(customer_id, moment)


async def _subscribe(app: str, key: str, url: str) -> None:
    async with httpx.AsyncClient(base_url=app, headers={"API-Key": key}) as client:
        answer = await client.post("/api/1/webhook", json={"url": url, "channels": ["customer"]})
        answer.raise_for_status()


async def _load(
    app: str, key: str, writes: int, rate: float | None
) -> dict[int, tuple[float, float]]:
    """Create ``writes`` customers at ``rate`` per second (None: as fast as 32 connections
    go); the moment each was offered (its request due) and the moment of its 2xx."""
    answered: dict[int, tuple[float, float]] = {}
    limits = httpx.Limits(max_connections=32)
    # At most 32 requests in the client at once: thousands queued in its connection pool cost
    # it quadratic time (and time out there, on a busy machine).
    in_flight = asyncio.Semaphore(32)
    async with httpx.AsyncClient(
        base_url=app, headers={"API-Key": key}, timeout=30, limits=limits
    ) as client:

        async def write(number: int) -> None:
            offered = time.time()
            async with in_flight:
                await _write(number, offered)

        async def _write(number: int, offered: float) -> None:
            # An overloaded server answers 503 (and may close the connection): try again.
            for _ in range(50):
                try:
                    response = await client.post("/api/1/customer", json={"name": f"Hook {number}"})
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
                    continue
                moment = time.time()
                if response.status_code != 503:
                    break
                await asyncio.sleep(0.1)
            response.raise_for_status()
            answered[response.json()["id"]] = (offered, moment)

        started = time.monotonic()
        tasks = []
        for number in range(writes):
            if rate is not None:
                await asyncio.sleep(max(0.0, started + number / rate - time.monotonic()))
            tasks.append(asyncio.create_task(write(number)))
        await asyncio.gather(*tasks)
    return answered


def _wait_for(arrivals: Arrivals, ids: set[int], seconds: float = 60) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        arrivals.collect()
        missing = ids - set(arrivals.at)
        if not missing:
            return missing
        time.sleep(0.05)
    return missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True, help="a scratch Postgres URL, or sqlite")
    parser.add_argument("--writes", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=100.0, help="changes per second")
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--dispatchers", type=int, default=0)
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="webhooks-lag-"))
    database = options.database
    if database == "sqlite":
        database = f"sqlite:///{workdir / 'bench.db'}"
    else:
        migrations.downgrade(database, "base")
    migrations.upgrade(database)
    key = asyncio.run(_create_key(database))
    arrivals = Arrivals()
    with ExitStack() as stack:
        stack.callback(arrivals.process.terminate)
        settings = {
            "DATABASE_URL": database,
            "LOG_LEVEL": "warning",
            "RATE_LIMIT_PER_KEY": "",
            "RATE_LIMIT_PER_GROUP": "",
            "VAULT_DIR": str(workdir / "vault"),
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "WEBHOOK_DISPATCHER_IN_PROCESS": "false" if options.dispatchers else "true",
        }
        port = free_port()
        app = f"http://127.0.0.1:{port}"
        log = workdir / "app.log"
        process = _start(["serve", "--port", str(port)], settings, log)
        stack.callback(_stop, process)
        _wait_healthy(app, process, log)
        for number in range(options.dispatchers):
            dispatcher = _start(["webhooks"], settings, workdir / f"dispatcher-{number}.log")
            stack.callback(_stop, dispatcher)
        asyncio.run(_subscribe(app, key, f"http://127.0.0.1:{arrivals.port}/hook"))
        warm = asyncio.run(_load(app, key, 50, options.rate))  # warm-up, not measured
        _wait_for(arrivals, set(warm))

        answered = asyncio.run(_load(app, key, options.writes, options.rate))
        missing = _wait_for(arrivals, set(answered))
        done = {i: moments for i, moments in answered.items() if i not in missing}
        lags = [(arrivals.at[i] - answer) * 1000 for i, (_, answer) in done.items()]
        whole = [(arrivals.at[i] - offered) * 1000 for i, (offered, _) in done.items()]
        first = min(offered for offered, _ in answered.values())
        achieved = len(answered) / (max(answer for _, answer in answered.values()) - first)

        burst_started = time.time()
        burst = asyncio.run(_load(app, key, options.burst, None))
        burst_written = time.time()
        burst_missing = _wait_for(arrivals, set(burst), seconds=120)
        last = max(arrivals.at[i] for i in burst if i not in burst_missing)

    kind = "SQLite" if options.database == "sqlite" else "Postgres"
    where = f"{options.dispatchers} dispatcher process(es)" if options.dispatchers else "in serve"
    print(f"{kind}, dispatcher {where}, receiver on loopback answering 200")
    print(
        f"{options.writes} changes at {options.rate:g}/s, lag from 2xx to delivery, ms: "
        f"min {min(lags):.1f}  p50 {statistics.median(lags):.1f}  "
        f"p90 {_percentile(lags, 0.9):.1f}  p99 {_percentile(lags, 0.99):.1f}  "
        f"max {max(lags):.1f}  (never delivered within 60 s: {len(missing)})"
    )
    print(
        f"  written at {achieved:.0f}/s; from the moment each change was due to its delivery "
        f"(the writes' own queueing included), ms: p50 {statistics.median(whole):.1f}  "
        f"p99 {_percentile(whole, 0.99):.1f}"
    )
    written = burst_written - burst_started
    delivered = last - burst_started
    print(
        f"burst of {options.burst} changes: written in {written:.1f} s "
        f"({options.burst / written:.0f}/s), all delivered {delivered:.1f} s after the first "
        f"write ({options.burst / delivered:.0f} events/s; never delivered: {len(burst_missing)})"
    )


if __name__ == "__main__":
    main()
