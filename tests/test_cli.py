"""The customer-api command, run as a user runs it: a real process on a real database file."""

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.live_server import live_server


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CUSTOMER_API_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "customer_api", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    created = run_cli(tmp_path, "keys", "create", "--group", "Acme")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"cak_[A-Za-z0-9_-]{43}", key)

    listed = run_cli(tmp_path, "keys", "list")
    assert listed.returncode == 0
    assert "Acme" in listed.stdout and key[:10] in listed.stdout
    assert key not in listed.stdout
    key_id = re.search(r"^\s*(\d+)\s", listed.stdout.splitlines()[1]).group(1)

    revoked = run_cli(tmp_path, "keys", "revoke", key_id)
    assert revoked.returncode == 0
    assert "revoked" in run_cli(tmp_path, "keys", "list").stdout
    assert run_cli(tmp_path, "keys", "revoke", "9999").returncode == 1


def test_keys_create_refuses_blank_group(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "keys", "create", "--group", "  ")
    assert result.returncode != 0


def test_migrate(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.db").exists()


def test_serve_on_a_new_database_prints_a_first_key_that_works(tmp_path: Path) -> None:
    with live_server(tmp_path) as server:
        key = server.first_key
        assert f"curl -H 'API-Key: {key}'" in server.stdout
        created = httpx.post(
            f"{server.base_url}/api/1/customer", json={"name": "W"}, headers={"API-Key": key}
        )
        assert created.status_code == 200
        listed = httpx.get(f"{server.base_url}/api/1/customer", headers={"API-Key": key})
        assert [c["name"] for c in listed.json()] == ["W"]
        assert (tmp_path / "data" / "customer-api.db").exists()
