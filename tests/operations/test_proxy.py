"""deploy/nginx.conf: access lines without query strings (a key may be one), and the timeouts
that cut off slow clients. Run in front of a real server when nginx is installed."""

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live_server import LiveServer, free_port, live_server

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# Variables that carry the query string, or a URL that may have one.
QUERY_VARIABLES = re.compile(r"\$(request|request_uri|args|query_string|arg_\w+|http_referer)\b")


def directives(name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", CONF.read_text(), re.MULTILINE)


def test_the_access_log_format_has_no_query_string() -> None:
    [access_log] = directives("access_log")
    log_format = re.search(r"log_format\s+(\w+)[^;]*;", CONF.read_text(), re.DOTALL)
    assert log_format is not None
    assert access_log.split()[-1] == log_format.group(1)
    assert not QUERY_VARIABLES.search(log_format.group(0))
    for variable in ("$uri", "$status", "$body_bytes_sent", "$request_time"):
        assert variable in log_format.group(0)
    assert "$upstream_response_time" in log_format.group(0)
    assert "$customer_api_request_id" in log_format.group(0)


def test_slow_clients_are_cut_off() -> None:
    for name in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        [value] = directives(name)
        assert re.fullmatch(r"\d+s", value) and int(value[:-1]) <= 60, (name, value)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, LiveServer]]:
    """The app behind nginx with this configuration: (the proxy's URL, its access log)."""
    if not Path(NGINX).exists():
        pytest.skip("needs nginx (Debian: apt-get install nginx)")
    workdir = tmp_path_factory.mktemp("proxy")
    with live_server(workdir / "app") as server:
        port = free_port()
        site = _site(CONF.read_text(), server.base_url.rsplit(":", 1)[1], port, workdir)
        (workdir / "site.conf").write_text(site)
        (workdir / "nginx.conf").write_text(_main(workdir))
        process = subprocess.Popen(
            [NGINX, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e", "error.log"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_for(url, process)
            yield url, workdir / "access.log", server
        finally:
            process.terminate()
            process.wait(timeout=30)


def _site(conf: str, app_port: str, port: int, workdir: Path) -> str:
    """The configuration, pointed at the test's app and files."""
    replacements = {
        "server app:8000;": f"server 127.0.0.1:{app_port};",
        "listen 8080;": f"listen 127.0.0.1:{port};",
        "/var/log/nginx/access.log": str(workdir / "access.log"),
    }
    for old, new in replacements.items():
        assert conf.count(old) == 1, old
        conf = conf.replace(old, new)
    return conf


def _main(workdir: Path) -> str:
    temp = " ".join(
        f"{kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off; pid {workdir / 'nginx.pid'};\n"
        "events { worker_connections 64; }\n"
        f"http {{ {temp} include {workdir / 'site.conf'}; }}\n"
    )


def _wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {process.stderr.read().decode()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("nginx did not answer")


def access_lines(log: Path, request_id: str) -> list[dict]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        if mine := [line for line in lines if line["request_id"] == request_id]:
            return mine
        time.sleep(0.05)
    raise AssertionError(f"no access line for {request_id} in:\n{log.read_text()}")


def test_a_key_in_the_query_never_reaches_the_proxy_log(proxied) -> None:
    url, log, server = proxied
    key = server.first_key
    response = httpx.get(
        f"{url}/api/1/customer?api_key={key}&limit=5", headers={"X-Request-ID": "proxy-log-1"}
    )
    assert response.status_code == 204
    [line] = access_lines(log, "proxy-log-1")
    assert line["path"] == "/api/1/customer"
    assert (line["method"], line["status"], line["bytes"]) == ("GET", 204, 0)
    assert line["request_time"] >= 0 and line["upstream_time"]
    assert key not in log.read_text()
    # The first start's box on stderr shows the key once, by design; no log line holds it.
    assert not any(key in json.dumps(line) for line in server.log_lines())


def test_the_proxy_makes_a_request_id_when_the_client_sends_none(proxied) -> None:
    url, log, _ = proxied
    response = httpx.get(f"{url}/health?api_key=not-a-key")
    request_id = response.headers["X-Request-ID"]
    [line] = access_lines(log, request_id)
    assert (line["path"], line["status"]) == ("/health", 200)
    assert "not-a-key" not in log.read_text()
