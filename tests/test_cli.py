"""The customer-api command, run as a user runs it: a real process on a real database file."""

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

import customer_api
from customer_api import cli as cli_module
from customer_api.config import get_settings
from customer_api.core import startup
from tests.helpers import POSTGRES_URL, run_cli
from tests.live_server import KEY, free_port, live_server


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    created = run_cli(tmp_path, "keys", "create", "--group", "Acme", "--new-database")
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
        box = server.stderr.split("=" * 78)[1]
        assert f"\n      {key}\n" in box  # on a line of its own
        assert f"{server.base_url}/docs" in box
        # The box's first call, run as printed: it creates a customer and shows it.
        curl = box[box.index("curl -s -X POST") :].split("\n      curl")[0]
        answer = subprocess.run(
            ["sh", "-c", curl.replace("\\\n", " ")], capture_output=True, text=True, timeout=30
        )
        assert json.loads(answer.stdout)["name"] == "My first customer"
        listed = httpx.get(f"{server.base_url}/api/1/customer", headers={"API-Key": key})
        assert [c["name"] for c in listed.json()] == ["My first customer"]
        assert (tmp_path / "data" / "customer-api.db").exists()
    assert key not in server.stdout

    with live_server(tmp_path / "again", settings=_same_data(tmp_path)) as server:
        assert not KEY.search(server.stderr)
        assert "customer-api keys create --group NAME" in server.stderr
        assert f"{server.base_url}/docs" in server.stderr


def _same_data(tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'customer-api.db'}",
        "VAULT_DIR": str(tmp_path / "data" / "vault"),
    }


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """``customer-api`` run in this process (the entry point's own ``main``), in ``tmp_path``,
    with ``settings`` as its only CUSTOMER_API_* variables: seconds faster than a process."""

    def run(*args: str, settings: dict[str, str] | None = None) -> Ran:
        for name in [name for name in os.environ if name.startswith("CUSTOMER_API_")]:
            monkeypatch.delenv(name)
        for name, value in (settings or {}).items():
            monkeypatch.setenv(f"CUSTOMER_API_{name}", value)
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "argv", ["customer-api", *args])
        monkeypatch.setattr(cli_module, "_debug", False)
        monkeypatch.setattr(cli_module, "configure_logging", lambda level: None)
        get_settings.cache_clear()
        try:
            cli_module.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            get_settings.cache_clear()
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    yield run
    get_settings.cache_clear()


def test_commands_say_which_database_and_vault_they_use(cli, tmp_path: Path) -> None:
    result = cli("migrate")
    assert result.code == 0, result.stderr
    assert f"database: {tmp_path / 'data' / 'customer-api.db'}" in result.stderr
    assert f"vault:    {tmp_path / 'data' / 'vault'}" in result.stderr


def test_keys_refuse_a_database_that_does_not_exist(cli, tmp_path: Path) -> None:
    """A key made in a new, empty database is a key no running server knows."""
    for args in (("keys", "create", "--group", "Acme"), ("keys", "list"), ("keys", "revoke", "1")):
        result = cli(*args)
        assert result.code == 1
        assert f"there is no database at {tmp_path / 'data' / 'customer-api.db'}" in result.stderr
        assert "CUSTOMER_API_DATABASE_URL is unset" in result.stderr
        assert "--new-database" in result.stderr
    assert not (tmp_path / "data" / "customer-api.db").exists()


def _failure(cli, settings: dict[str, str], *args: str) -> list[str]:
    """Run a command with ``settings``; the lines it printed after saying where its data is."""
    result = cli(*(args or ("migrate",)), settings=settings)
    assert result.code == 1, result.stderr
    lines = [
        line
        for line in result.stderr.splitlines()
        if not line.startswith(("database:", "vault:", "{"))
    ]
    assert 1 <= len(lines) <= 2, result.stderr
    return lines


def test_a_malformed_database_url_is_named_without_its_password(cli) -> None:
    lines = _failure(cli, {"DATABASE_URL": "postgresql//ann:s3cret@db/customers"})
    assert "CUSTOMER_API_DATABASE_URL" in lines[0] and "s3cret" not in "".join(lines)
    lines = _failure(cli, {"DATABASE_URL": "postgresql://ann:s3cret@db:port/customers"})
    assert "CUSTOMER_API_DATABASE_URL='postgresql://ann:***@db:port/customers'" in lines[0]


def test_an_unreachable_database_server_is_one_plain_answer(cli) -> None:
    url = f"postgresql://ann:s3cret@127.0.0.1:{free_port()}/customers"
    lines = _failure(cli, {"DATABASE_URL": url})
    assert lines[0].startswith("customer-api: no database server answers at 127.0.0.1:")
    assert "CUSTOMER_API_DATABASE_URL=postgresql://ann:***@127.0.0.1" in lines[0]
    assert "s3cret" not in "".join(lines)


@pytest.mark.skipif(not POSTGRES_URL, reason="needs CUSTOMER_API_TEST_DATABASE_URL (Postgres)")
def test_a_missing_postgres_database_or_role_is_one_plain_answer(cli) -> None:
    server = make_url(POSTGRES_URL)
    missing = server.set(database="customer_api_no_such_database")
    lines = _failure(cli, {"DATABASE_URL": missing.render_as_string(hide_password=False)})
    assert "the database 'customer_api_no_such_database' does not exist" in lines[0]
    assert "createdb" in lines[1]
    stranger = server.set(username="customer_api_no_such_role", password="s3cret")
    lines = _failure(cli, {"DATABASE_URL": stranger.render_as_string(hide_password=False)})
    assert 'role "customer_api_no_such_role" does not exist' in lines[0]
    assert "s3cret" not in "".join(lines)


def test_other_bad_settings_are_named(cli, tmp_path: Path) -> None:
    lines = _failure(cli, {"PORT": "eighty"}, "serve")
    assert lines[0].startswith("customer-api: CUSTOMER_API_PORT='eighty' is not valid")
    (tmp_path / "a-file").write_text("")
    lines = _failure(cli, {"VAULT_DIR": str(tmp_path / "a-file" / "vault")}, "serve")
    assert "cannot use the vault folder" in lines[0] and "CUSTOMER_API_VAULT_DIR" in lines[0]


def test_debug_shows_the_traceback(cli) -> None:
    with pytest.raises(ValidationError):
        cli("--debug", "migrate", settings={"DATABASE_URL": "nonsense"})


def test_version_and_help_read_well(cli) -> None:
    assert cli("--version").stdout.strip() == f"customer-api {customer_api.__version__}"
    for command in ((), ("serve",), ("keys", "create"), ("migrate",)):
        shown = cli(*command, "--help")
        assert shown.code == 0, shown.stderr
        assert "<str>" not in shown.stdout and "<bool>" not in shown.stdout
        assert "``" not in shown.stdout
    serve_help = cli("serve", "--help").stdout
    assert "[default: (CUSTOMER_API_PORT, else 8000)]" in " ".join(serve_help.split())


def test_a_refused_connection_elsewhere_is_not_called_the_database_s() -> None:
    """Only failures that came up through the database code are explained as the database's;
    anything else keeps its traceback."""
    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except ConnectionRefusedError as exc:
        assert startup.explain(exc, "postgresql://db/customers") is None
