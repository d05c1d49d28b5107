"""README.md's walk-through, run as a newcomer runs it: every ```bash block in order, in one
shell, against a new ``customer-api serve``, with curl. Each HTTP answer must have the status
the command's own comment names (``# 400``), or a 2xx when it names none. A block preceded by a
``<!-- walk-through: not run ... -->`` line is left out (it installs, starts Docker, or shows an
example answer that cannot be made on demand)."""

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live_server import live_server

README = Path(__file__).resolve().parents[1] / "README.md"
SKIP_MARK = "<!-- walk-through: not run"
STATUS = re.compile(r"\b([1-5]\d\d)\b")
# A trailing comment: a # after white space, outside quotes as far as one line can tell.
COMMENT = re.compile(r"(?:^|\s)#(?![^']*'[^']*$)(.*)$")

# Every curl call: a request id the server logs with its status, and the script line it ran on.
CURL_WRAPPER = """\
set -euo pipefail
curl() {
  local number
  number=$(( $(cat "$README_CALLS.count") + 1 ))
  echo "$number" > "$README_CALLS.count"
  echo "$number ${BASH_LINENO[0]}" >> "$README_CALLS"
  command curl -H "X-Request-ID: readme-$number" "$@"
}
"""


@dataclass
class Line:
    text: str
    readme_line: int


def walk_through_blocks(text: str) -> list[list[Line]]:
    """The ```bash blocks that are not marked as left out, each as its lines."""
    blocks, lines = [], text.splitlines()
    for index, line in enumerate(lines):
        if line.strip() != "```bash":
            continue
        previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        end = lines.index("```", index + 1)
        if not previous.startswith(SKIP_MARK):
            blocks.append([Line(lines[i], i + 1) for i in range(index + 1, end)])
    return blocks


def commands(block: list[Line]) -> list[list[Line]]:
    """The block's commands: lines joined by a trailing \\ or |, or by an open quote."""
    result, current, quotes = [], [], 0
    for line in block:
        current.append(line)
        code = COMMENT.sub("", line.text).rstrip()
        quotes += code.count("'")
        if quotes % 2 == 0 and not code.endswith(("\\", "|")):
            result.append(current)
            current = []
    if current:
        result.append(current)
    return result


def expected_status(command: list[Line]) -> str | None:
    """The status a command's comment names (``# 206``, ``# 412: stale``), if any."""
    for line in command:
        comment = COMMENT.search(line.text)
        if comment and (status := STATUS.search(comment.group(1))):
            return status.group(1)
    return None


@pytest.mark.skipif(not shutil.which("curl"), reason="needs curl (.ci/run installs it)")
def test_the_readme_walk_through_runs_top_to_bottom(tmp_path: Path) -> None:
    blocks = walk_through_blocks(README.read_text())
    script_lines = CURL_WRAPPER.splitlines()
    readme_line_of: dict[int, int] = {}
    expectation_of: dict[int, str | None] = {}
    with live_server(tmp_path / "server") as server:
        port = server.base_url.rsplit(":", 1)[1]
        for block in blocks:
            for command in commands(block):
                status = expected_status(command)
                for line in command:
                    text = line.text.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
                    text = text.replace("KEY=cak_...", f"KEY={server.first_key}")
                    script_lines.append(text)
                    readme_line_of[len(script_lines)] = line.readme_line
                    expectation_of[len(script_lines)] = status
        calls = tmp_path / "calls"
        calls.write_text("")
        Path(f"{calls}.count").write_text("0")
        environment = {
            **os.environ,
            "README_CALLS": str(calls),
            # customer-api of this checkout, as the walk-through's keys commands expect.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        }
        environment = {k: v for k, v in environment.items() if not k.startswith("CUSTOMER_API_")}
        result = subprocess.run(
            ["bash", "-c", "\n".join(script_lines)],
            cwd=server.workdir,  # where serve keeps ./data: the keys commands find it
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        made = [line.split() for line in calls.read_text().splitlines()]
        answered = _statuses(server, {f"readme-{number}" for number, _ in made})

    assert len(made) >= 30, "the walk-through lost its requests"
    wrong = []
    for number, script_line in made:
        status = answered[f"readme-{number}"]
        expected = expectation_of[int(script_line)]
        if (expected is None and not 200 <= status < 300) or (
            expected is not None and str(status) != expected
        ):
            readme_line = readme_line_of[int(script_line)]
            wrong.append(f"README.md:{readme_line}: {status}, not {expected or '2xx'}")
    assert not wrong, "\n".join(wrong)


def _statuses(server, request_ids: set[str]) -> dict[str, int]:
    """Each request's status from its access line (written just after the answer went out)."""
    deadline = time.monotonic() + 10
    while True:
        answered = {
            line["request_id"]: line["status"]
            for line in server.log_lines()
            if line.get("logger") == "customer_api.access" and "status" in line
        }
        if request_ids <= answered.keys() or time.monotonic() > deadline:
            return answered
        time.sleep(0.1)
