"""Search latency at scale: load N customers, build the index, time realistic searches.

    python bench/search_load.py --customers 100000 --sqlite bench-data/search.db \\
        --postgres postgresql://postgres@127.0.0.1:5432/scratch

Each database given is migrated down to nothing and up again, so give it a scratch database.
Customers are bulk-inserted (COPY on Postgres, executemany on SQLite), the index is built with
the same rebuild ``customer-api reindex`` runs, then every query runs ``--repeat`` times through
the search service (backend search plus reading the hits), and p50/p95 are reported per
backend. Figures and the machine they were taken on go in bench/README.md.
"""

import argparse
import asyncio
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import text

from customer_api.config import async_database_url
from customer_api.core import migrations
from customer_api.core.db import Database
from customer_api.search.analysis import SearchQuery
from customer_api.search.backend import NoProgress
from customer_api.search.service import native_backend, search_customers


def _names(text: str, separator: str | None = None) -> list[str]:
    return text.split(separator)


FIRST = _names(
    "Anna Eva Maria Karin Sara Lena Kerstin Emma Ingrid Marie Malin Jenny Hanna Linda Sofia "
    "Elin Ida Julia Johanna Ulla Erik Lars Karl Anders Johan Per Nils Jan Mikael Hans Peter "
    "Olof Sven Fredrik Daniel Bengt Bo Gustav Oskar Magnus Stefan Mats Henrik Andreas Thomas "
    "Ahmed Ali Mohammed Fatima Yusuf Leila Omar Amir Noor Zara"
)
LAST = _names(
    "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson "
    "Pettersson Jonsson Jansson Hansson Bengtsson Jönsson Lindberg Jakobsson Magnusson "
    "Lindström Olofsson Lindqvist Lindgren Berg Axelsson Bergström Lundberg Lind Lundgren "
    "Lundqvist Mattsson Berglund Fredriksson Sandberg Henriksson Forsberg Sjöberg Wallin "
    "Ali Mohammed Engström Eklund Danielsson Lundin Håkansson Björk Bergman Gunnarsson Holm "
    "Wikström Samuelsson Isaksson Fransson Bergqvist Nyström Holmberg Arvidsson Löfgren "
    "Söderberg Nyberg Blomqvist Claesson Nordström Mårtensson Lundström Viklund Björklund"
)
COMPANY = _names("Bygg Måleri El VVS Fastigheter Städ Trädgård Transport Konsult Rör Tak Golv")
STREETS = _names(
    "Storgatan Kungsgatan Drottninggatan Skolgatan Järnvägsgatan Nygatan Kyrkogatan "
    "Parkvägen Industrivägen Södra Vägen Norra Strandgatan Östra Långgatan Västra Hamngatan "
    "Björkvägen Ekvägen Tallvägen Granvägen Lindvägen Åsvägen Backvägen Skogsvägen Ringvägen"
)
CITIES = _names(
    "Stockholm Göteborg Malmö Uppsala Västerås Örebro Linköping Helsingborg Jönköping "
    "Norrköping Lund Umeå Gävle Borås Södertälje Eskilstuna Halmstad Växjö Karlstad Sundsvall "
    "Östersund Trollhättan Luleå Borlänge Falun Kalmar Skövde Kristianstad Karlskrona Skellefteå"
)
PROJECTS = _names(
    "Floor installation|General maintenance|Kitchen renovation|Roof repair|Window replacement|"
    "Garden care|Heat pump service|Bathroom renovation|Facade painting|Snow clearing|"
    "Electrical inspection|Drainage work",
    "|",
)
NOTES = _names(
    "gate code door key dog cat alarm parking garage basement attic ladder invoice monthly "
    "quarterly contact before arrival elderly customer prefers morning afternoon visits "
    "call ahead fragile floor heating boiler ventilation filter leak damage insurance "
    "warranty contract signed discount loyal new referral neighbour"
)
DOMAINS = _names("example.se example.com mail.se foretag.se")

QUERIES = [
    "johansson",
    "anna johansson",
    "malmö",
    "storgatan 12",
    "C-0004711",
    "anna.johansson@example.se",
    "joh",
    "lindq",
    "anders sv",
    "kitchen renovation",
    "alarm",
    "heat pump",
    "jönköping bygg",
    "nonexistentword",
    "070",
]


def _weighted(rng: random.Random, items: list[str]) -> str:
    """A Zipf-like pick: early items are more common, as real names and cities are (the
    first of 70 last names is about 5% of all, like Andersson in Sweden)."""
    weights = _WEIGHTS.setdefault(len(items), [1 / (rank + 10) for rank in range(len(items))])
    return rng.choices(items, weights=weights)[0]


_WEIGHTS: dict[int, list[float]] = {}


def customer_rows(count: int, group_id: int) -> Iterator[tuple]:
    rng = random.Random(4711)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    for number in range(1, count + 1):
        first, last = _weighted(rng, FIRST), _weighted(rng, LAST)
        company = rng.random() < 0.3
        name = f"{last} {rng.choice(COMPANY)} AB" if company else f"{first} {last}"
        yield (
            number,
            uuid.UUID(int=rng.getrandbits(128)),
            group_id,
            name,
            f"C-{number:07d}",
            f"{first}.{last}@{rng.choice(DOMAINS)}".lower(),
            f"+46 8 {rng.randint(100000, 999999)}",
            f"070-{rng.randint(1000000, 9999999)}" if rng.random() < 0.5 else None,
            f"{_weighted(rng, STREETS)} {rng.randint(1, 120)}",
            f"{rng.randint(100, 999)} {rng.randint(10, 99)}",
            _weighted(rng, CITIES),
            " ".join(rng.choices(NOTES, k=rng.randint(0, 20))) or None,
            rng.random() > 0.1,
            moment,
            moment,
        )


CUSTOMER_COLUMNS = [
    "id", "uuid", "group_id", "name", "customer_number", "email", "phone", "mobile",
    "address", "postal_code", "city", "notes", "active", "created", "modified",
]  # fmt: skip


def project_rows(count: int) -> Iterator[tuple]:
    rng = random.Random(42)
    project_id = 0
    for customer_id in range(1, count + 1):
        for name in rng.sample(PROJECTS, k=rng.choice((0, 0, 1, 1, 2, 3))):
            project_id += 1
            yield (project_id, uuid.UUID(int=rng.getrandbits(128)), customer_id, name, True)


PROJECT_COLUMNS = ["id", "uuid", "customer_id", "name", "active"]


async def load_postgres(database: Database, count: int, group_id: int) -> None:
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        asyncpg_connection = raw.driver_connection
        await asyncpg_connection.copy_records_to_table(
            "customers", records=customer_rows(count, group_id), columns=CUSTOMER_COLUMNS
        )
        await asyncpg_connection.copy_records_to_table(
            "customer_projects", records=project_rows(count), columns=PROJECT_COLUMNS
        )
        await connection.execute(
            text("SELECT setval('customers_id_seq', (SELECT max(id) FROM customers))")
        )
        await connection.commit()


async def load_sqlite(database: Database, count: int, group_id: int) -> None:
    def naive(row: tuple) -> tuple:
        return tuple(
            value.hex if isinstance(value, uuid.UUID)
            else value.replace(tzinfo=None) if isinstance(value, datetime)
            else value
            for value in row
        )  # fmt: skip

    async with database.engine.begin() as connection:
        raw = await connection.get_raw_connection()
        cursor = await raw.driver_connection.cursor()
        for table, columns, rows in (
            ("customers", CUSTOMER_COLUMNS, customer_rows(count, group_id)),
            ("customer_projects", PROJECT_COLUMNS, project_rows(count)),
        ):
            marks = ", ".join("?" * len(columns))
            await cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                [naive(row) for row in rows],
            )
        await raw.driver_connection.commit()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def recreate(url: str) -> None:
    migrations.upgrade(url)
    migrations.downgrade(url, "base")
    migrations.upgrade(url)


async def bench(url: str, count: int, repeat: int) -> dict:
    database = Database(async_database_url(url))
    backend = native_backend(database.dialect)
    try:
        async with database.engine.begin() as connection:
            group_id = (
                await connection.execute(
                    text("INSERT INTO groups (name, created) VALUES ('bench', :now) RETURNING id"),
                    {"now": datetime.now(UTC)},
                )
            ).scalar_one()
        started = time.perf_counter()
        load = load_postgres if database.dialect == "postgresql" else load_sqlite
        await load(database, count, group_id)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        await backend.rebuild(database, NoProgress())
        indexed = time.perf_counter() - started
        if database.dialect == "postgresql":
            async with database.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(text("VACUUM ANALYZE"))
        timings: dict[str, list[float]] = {query: [] for query in QUERIES}
        async with database.sessions() as session:
            for _ in range(repeat):
                for query in QUERIES:
                    started = time.perf_counter()
                    found = await search_customers(
                        session, backend=backend, group_id=group_id, text=query,
                        include_inactive=False, limit=50,
                    )  # fmt: skip
                    timings[query].append((time.perf_counter() - started) * 1000)
                    assert len(found) <= 50
            # How many customers each query matches: what its latency depends on.
            matches = {
                query: len(
                    await backend.search(
                        session, group_id=group_id, query=SearchQuery.parse(query),
                        include_inactive=False, limit=count,
                    )
                )
                for query in QUERIES
            }  # fmt: skip
        every = [ms for values in timings.values() for ms in values]
        return {
            "backend": backend.name,
            "load_s": loaded,
            "index_s": indexed,
            "p50": statistics.median(every),
            "p95": percentile(every, 0.95),
            "per_query": {
                query: (matches[query], statistics.median(values), percentile(values, 0.95))
                for query, values in timings.items()
            },
        }
    finally:
        await database.dispose()


def report(result: dict, count: int) -> None:
    print(
        f"\n## {result['backend']}, {count:,} customers\n\n"
        f"load {result['load_s']:.1f} s, index build {result['index_s']:.1f} s "
        f"({count / result['index_s']:,.0f} customers/s); "
        f"search p50 {result['p50']:.2f} ms, p95 {result['p95']:.2f} ms\n"
    )
    print("| query | matching customers | p50 ms | p95 ms |\n|---|---:|---:|---:|")
    for query, (matches, p50, p95) in result["per_query"].items():
        print(f"| `{query}` | {matches:,} | {p50:.2f} | {p95:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20, help="runs of each query")
    parser.add_argument("--sqlite", metavar="PATH", help="SQLite file to (re)create")
    parser.add_argument("--postgres", metavar="URL", help="scratch Postgres database")
    args = parser.parse_args()
    if not args.sqlite and not args.postgres:
        parser.error("give --sqlite PATH and/or --postgres URL")
    for url in filter(None, (args.sqlite and f"sqlite:///{args.sqlite}", args.postgres)):
        recreate(url)
        report(asyncio.run(bench(url, args.customers, args.repeat)), args.customers)


if __name__ == "__main__":
    main()
