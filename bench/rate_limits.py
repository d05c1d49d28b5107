"""What the rate limits' check costs a request, in CPU time, measured in process.

    python bench/rate_limits.py                      # 5,000 checks per kind at 1,000 a second
    python bench/rate_limits.py --checks 20000 --rate 2000 --redis-url redis://127.0.0.1:6379/0

The check (``RequestLimiter.check``, two budgets: the key's and the group's, too large to
refuse anything) runs the given number of times at the given rate (a server's requests per
second) in an asyncio loop that sleeps between two checks, so that whatever the storage
schedules runs too and batches are sent as often as under that load. The figure is the
process's CPU time per check, less that of the same loop without checks. Kinds:

- ``memory``: counted in process (no ``REDIS_URL``);
- ``redis, batched``: counted in Redis as the server does it, each budget's requests sent at
  most every ``SHARE_SECONDS`` while less than half of it is used;
- ``redis, every request``: one round trip per budget and request, as for budgets under
  ``SMALLEST_SHARED_BUDGET`` or past half of a budget.

Unlike requests per second with wrk, CPU time per check hardly moves with what else runs on the
machine; set it beside the CPU time a whole request takes (``request_path.py`` prints it).
"""

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from customer_api.auth import rate_limits
from customer_api.auth.service import Principal
from customer_api.config import Settings

NEVER_SPENT = "1000000000/minute"


async def cpu_per_check(limiter: rate_limits.RequestLimiter, checks: int, rate: float) -> float:
    """Microseconds of CPU time per check, less the loop's own."""
    principal = Principal(group_id=1, key_id=1)
    pause = 1 / rate
    started = time.process_time()
    for _ in range(checks):
        await asyncio.sleep(pause)
    bare = time.process_time() - started
    started = time.process_time()
    for _ in range(checks):
        await limiter.check(principal, {})
        await asyncio.sleep(pause)
    return (time.process_time() - started - bare) / checks * 1e6


def limiter(redis_url: str | None) -> rate_limits.RequestLimiter:
    settings = Settings(
        rate_limit_per_key=NEVER_SPENT,
        rate_limit_per_group=NEVER_SPENT,
        redis_url=redis_url,
        redis_key_prefix=f"bench-rl-{uuid.uuid4().hex}",
        _env_file=None,
    )
    made = rate_limits.request_limiter(settings)
    assert made is not None
    return made


async def run(args: argparse.Namespace) -> None:
    kinds = {
        "memory": (None, rate_limits.SMALLEST_SHARED_BUDGET),
        "redis, batched": (args.redis_url, rate_limits.SMALLEST_SHARED_BUDGET),
        "redis, every request": (args.redis_url, 2**62),
    }
    print(
        f"{args.checks} checks of two budgets per kind at {args.rate:g} a second, "
        f"{args.rounds} rounds, medians\n"
    )
    print("| kind | CPU µs per request |")
    print("|---|---:|")
    for kind, (redis_url, smallest_shared) in kinds.items():
        rate_limits.SMALLEST_SHARED_BUDGET = smallest_shared
        figures = []
        for _ in range(args.rounds):
            made = limiter(redis_url)
            await made.check(Principal(group_id=1, key_id=1), {})  # connect before measuring
            figures.append(await cpu_per_check(made, args.checks, args.rate))
            await made._storage.reset()  # the run's keys in Redis go
            made.close()
        figures.sort()
        print(f"| {kind} | {figures[len(figures) // 2]:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=5_000)
    parser.add_argument("--rate", type=float, default=1_000, help="checks a second")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
