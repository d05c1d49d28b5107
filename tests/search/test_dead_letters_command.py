"""``customer-api dead-letters list`` and ``retry``, as an operator runs them."""

import sqlite3
from pathlib import Path

from tests.helpers import run_cli


def _add_entries(database: Path) -> None:
    with sqlite3.connect(database) as db:
        db.executemany(
            "INSERT INTO search_outbox (customer_id, version, attempts, refusals, available_at, "
            "dead_since, last_error, created) VALUES (?, 1, 5, 5, '2026-01-01 00:00:00', ?, ?, "
            "'2026-01-01 00:00:00')",
            [
                (41, "2026-01-02 03:04:05", "status 400: mapper_parsing_exception: no"),
                (42, None, None),  # waiting, not dead
            ],
        )


def test_list_and_retry(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "migrate").returncode == 0
    _add_entries(tmp_path / "cli.db")

    listed = run_cli(tmp_path, "dead-letters", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 3 and lines[-1] == "1 dead letter(s)"
    assert lines[1].split()[:3] == ["1", "41", "5"]
    assert "2026-01-02 03:04:05" in lines[1] and "mapper_parsing_exception" in lines[1]

    retried = run_cli(tmp_path, "dead-letters", "retry")
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.strip() == "1 dead letter(s) back in line"
    with sqlite3.connect(tmp_path / "cli.db") as db:
        rows = db.execute(
            "SELECT customer_id, dead_since, refusals, attempts FROM search_outbox ORDER BY id"
        ).fetchall()
    assert rows == [(41, None, 0, 0), (42, None, 5, 5)]
    assert run_cli(tmp_path, "dead-letters", "retry", "1").stdout.strip() == (
        "0 dead letter(s) back in line"
    )
