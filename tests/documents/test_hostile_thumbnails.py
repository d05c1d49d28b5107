"""Hostile files: small uploads that are costly to render are cut off within the render limits,
get the icon for their kind (kept, so they are never tried again), and do not hold up another
group's thumbnails. Renders run in real, limited processes; the files are made here."""

import asyncio
import dataclasses
import re
import subprocess
import sys

import pytest

from tests.documents import files
from tests.documents.helpers import icon_of, upload

# Endless renders are left to the limits: each test's own app ends what is left of them.
pytestmark = pytest.mark.own_app

# The CPU limit cuts the costly renders off; the wall-clock deadline is loose so that ordinary
# renders finish in time on a busy machine (one test below tightens it to test it).
TIMEOUT_SECONDS = 10.0
CPU_SECONDS = 1
DEADLINE_SECONDS = 2.0
# Tens of seconds of rendering each: only the limits end them.
ENDLESS_FILLS = 300_000


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={
            "thumbnail_timeout": TIMEOUT_SECONDS,
            "thumbnail_cpu_seconds": CPU_SECONDS,
            "thumbnail_concurrency": 2,
            "thumbnail_queue": 4,
        }
    )


def kept_thumbnails(vault_dir) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (vault_dir / "thumbnails").rglob("*.jpg")}


async def renders(client) -> dict[str, float]:
    """The thumbnail render counts of /metrics, by outcome."""
    text = (await client.get("/metrics")).text
    pattern = r'^customer_api_thumbnail_renders_total\{outcome="(\w+)"\} ([0-9.e+]+)$'
    return {outcome: float(n) for outcome, n in re.findall(pattern, text, flags=re.MULTILINE)}


def more(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


@pytest.mark.parametrize(
    ("content", "name", "mime_type", "outcome"),
    [
        (files.fill_bomb_pdf(ENDLESS_FILLS), "fills.pdf", "application/pdf", "cpu_limit"),
        (files.large_canvas_png(), "canvas.png", "image/png", "refused"),
        (files.float_tiff(), "float.tif", "image/tiff", "refused"),
    ],
    ids=["fill-bomb-pdf", "large-canvas-png", "float-tiff"],
)
async def test_a_hostile_file_gets_its_icon_kept_while_others_are_served(
    client, globex, vault_dir, content, name, mime_type, outcome
) -> None:
    hostile = await upload(client, content, name)
    assert hostile["mimeType"] == mime_type
    neighbours = [await upload(globex.client, files.pdf(), "plan.pdf") for _ in range(2)]
    before = await renders(client)

    hostile_answer, *neighbour_answers = await asyncio.gather(
        client.get(hostile["thumbUrl"]),
        *(globex.client.get(document["thumbUrl"]) for document in neighbours),
    )

    assert hostile_answer.status_code == 200
    assert hostile_answer.headers["content-type"] == "image/png"
    assert hostile_answer.content == await icon_of(client, mime_type)
    for answer in neighbour_answers:
        assert (answer.status_code, answer.headers["content-type"]) == (200, "image/jpeg")
    assert more(await renders(client), before) == {outcome: 1, "rendered": 2}
    # Kept in the thumbnail's place: asking again renders nothing.
    assert hostile_answer.content in kept_thumbnails(vault_dir).values()
    again = await client.get(hostile["thumbUrl"])
    assert again.content == hostile_answer.content
    assert more(await renders(client), before) == {outcome: 1, "rendered": 2}


async def test_a_render_past_the_wall_clock_deadline_is_killed(app, client, vault_dir) -> None:
    thumbnailer = app.state.thumbnailer
    limits = dataclasses.replace(thumbnailer.limits, timeout=DEADLINE_SECONDS, cpu_seconds=60)
    thumbnailer.limits = limits
    document = await upload(client, files.fill_bomb_pdf(ENDLESS_FILLS), "slow.pdf")
    before = await renders(client)
    answer = await client.get(document["thumbUrl"])
    assert (answer.status_code, answer.headers["content-type"]) == (200, "image/png")
    assert more(await renders(client), before) == {"timeout": 1}
    assert list(kept_thumbnails(vault_dir).values()) == [answer.content]


async def test_requests_for_one_file_share_one_render(client) -> None:
    document = await upload(client, files.fill_bomb_pdf(5_000), "shared.pdf")
    before = await renders(client)
    answers = await asyncio.gather(*(client.get(document["thumbUrl"]) for _ in range(6)))
    assert {(a.status_code, a.headers["content-type"]) for a in answers} == {(200, "image/jpeg")}
    assert len({a.content for a in answers}) == 1
    assert more(await renders(client), before) == {"rendered": 1}


async def test_a_full_queue_answers_503_with_retry_after(client, vault_dir) -> None:
    # Two render, four wait: the seventh different file is turned away, not queued.
    slow = [
        await upload(client, files.fill_bomb_pdf(ENDLESS_FILLS, str(n)), f"{n}.pdf")
        for n in range(7)
    ]
    started = [asyncio.create_task(client.get(d["thumbUrl"])) for d in slow[:6]]
    await asyncio.sleep(0.3)
    turned_away = await client.get(slow[6]["thumbUrl"])
    assert turned_away.status_code == 503
    assert turned_away.headers["retry-after"] == "2"
    assert turned_away.json()["success"] is False
    assert turned_away.json()["error"] == "service_unavailable"
    answers = await asyncio.gather(*started)
    # The first two were cut off and got their icon; the ones that waited past the deadline
    # were told to come back (503), and their renders went on without them.
    statuses = sorted(a.status_code for a in answers)
    assert statuses[:2] == [200, 200]
    assert set(statuses) <= {200, 503}
    for answer in answers:
        if answer.status_code == 503:
            assert answer.headers["retry-after"] == "2"


def test_a_render_runs_at_a_lower_priority_than_the_server() -> None:
    """The render process's own limits, read back in a process set up as a render is."""
    probe = (
        "import os, resource\n"
        "from customer_api.vault.rendering import limit_self\n"
        "before = os.nice(0)\n"
        "limit_self(5, 512 * 1024 * 1024)\n"
        "print(before, os.nice(0), resource.getrlimit(resource.RLIMIT_CPU)[0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True
    )
    before, after, cpu_seconds = map(int, result.stdout.split())
    assert after == min(before + 10, 19)  # 19 is the lowest priority there is
    assert cpu_seconds == 5
