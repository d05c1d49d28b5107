"""List and fetch latency of /api/1/customer, in-process over httpx (no network in the way).

    python bench/customers_list.py [DATABASE_URL] [--customers N]

Loads N customers (two projects each) into a fresh group, then times GET /customer?limit=1000
and GET /customer/{id}. The database is migrated first; use a scratch database.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from customer_api.app import create_app
from customer_api.auth import service as auth_service
from customer_api.config import Settings
from customer_api.core import migrations


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


async def _run(url: str, customers: int) -> None:
    app = create_app(Settings(database_url=url, _env_file=None))
    async with app.router.lifespan_context(app):
        async with app.state.database.sessions() as session, session.begin():
            _, key = await auth_service.create_key(session, group_name=f"bench-{time.time()}")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers={"API-Key": key}
        ) as client:
            first_id = None
            for index in range(customers):
                response = await client.post(
                    "/api/1/customer",
                    json={
                        "name": f"Customer {index}",
                        "city": "Uppsala",
                        "notes": "n" * 100,
                        "customerProjects": [{"name": "Floor"}, {"name": "Maintenance"}],
                    },
                )
                first_id = first_id or response.json()["id"]
            page = min(customers, 1000)
            samples = []
            for _ in range(20):
                started = time.perf_counter()
                response = await client.get(f"/api/1/customer?limit={page}")
                samples.append(time.perf_counter() - started)
                assert len(response.json()) == page
            print(f"GET /customer?limit={page}: {_percentiles(samples)}")
            samples = []
            for _ in range(200):
                started = time.perf_counter()
                await client.get(f"/api/1/customer/{first_id}")
                samples.append(time.perf_counter() - started)
            print(f"GET /customer/{{id}}: {_percentiles(samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database_url", nargs="?")
    parser.add_argument("--customers", type=int, default=1000)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    migrations.upgrade(url)
    asyncio.run(_run(url, args.customers))


if __name__ == "__main__":
    main()
