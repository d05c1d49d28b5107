"""`schemathesis run --checks all` against a real server started for it, in CI (.ci/run):
`python -m tests.operations.live_contract`. Prints one summary line; exits non-zero, with
schemathesis' report, if it found anything but the /api/v1.0 family's documented business-rule
400s (which contract_hooks.py counts and sets aside).

Stateless (as the in-process contract test; see docs/decisions.md) and bounded (a fixed seed, a
few examples per operation, no coverage phase) so that it adds about a minute;
CUSTOMER_API_CONTRACT_EXAMPLES and CUSTOMER_API_CONTRACT_PHASES (e.g. examples,coverage,fuzzing)
make a deeper run by hand.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.live_server import live_server

PHASES = os.environ.get("CUSTOMER_API_CONTRACT_PHASES", "examples,fuzzing")
ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = os.environ.get("CUSTOMER_API_CONTRACT_EXAMPLES", "20")


def _run(base_url: str, key: str, workdir: Path, tally: Path) -> subprocess.CompletedProcess:
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{base_url}/openapi.json",
        "--checks=all",
        f"--phases={PHASES}",
        "--workers=2",
        f"--header=API-Key: {key}",
        f"--max-examples={EXAMPLES}",
        "--seed=20261203",
        "--generation-database=none",
        "--no-color",
    ]
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.operations.contract_hooks",
        "CONTRACT_TALLY": str(tally),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        command, cwd=workdir, env=environment, capture_output=True, text=True, timeout=600
    )


def _summary(tally: Path) -> tuple[int, int, Counter]:
    """Requests sent, operations reached, and the business-rule 400s set aside, by rule."""
    events = [json.loads(line) for line in tally.read_text().splitlines()] if tally.exists() else []
    calls = [event for event in events if event["event"] == "call"]
    rules = Counter(event["rule"] for event in events if event["event"] == "business_rule")
    return len(calls), len({event["operation"] for event in calls}), rules


def _summary_section(report: str) -> str:
    start = report.rfind(" SUMMARY ")
    return report[report.rfind("\n", 0, start) + 1 :] if start >= 0 else report


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="live-contract-") as directory:
        workdir = Path(directory)
        settings = {"RATE_LIMIT_PER_KEY": "0", "RATE_LIMIT_PER_GROUP": "0"}
        started = time.monotonic()
        with live_server(workdir / "server", settings=settings) as server:
            done = _run(server.base_url, server.first_key, workdir, workdir / "tally.jsonl")
        seconds = time.monotonic() - started
        calls, operations, rules = _summary(workdir / "tally.jsonl")
    accepted = ", ".join(f"{rule} {count}" for rule, count in sorted(rules.items())) or "none"
    verdict = "nothing else found" if done.returncode == 0 else "FAILURES (report above)"
    # Its whole report when it found something, else its summary (phases, checks, timing).
    report = done.stdout if done.returncode != 0 else _summary_section(done.stdout)
    print(report, done.stderr, sep="\n")
    print(
        f"schemathesis --checks all against a live server ({seconds:.0f} s): {calls} requests "
        f"to {operations} operations; /api/v1.0 business-rule 400s (documented, accepted): "
        f"{accepted}; {verdict}"
    )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
