"""GET /vault/document/{uuid}: the stored bytes, with their headers, ranges and revalidation."""

from urllib.parse import quote

import pytest

from tests.documents import files
from tests.documents.helpers import assert_family_error, upload

CONTENT = bytes(range(256)) * 40  # 10240 bytes, every byte value, sniffed as octet-stream


@pytest.fixture
async def stored(client) -> dict:
    return await upload(client, CONTENT, "Offert åäö 2024.bin")


async def test_content_with_its_headers(client, stored) -> None:
    response = await client.get(stored["contentUrl"])
    assert response.status_code == 200
    assert response.content == CONTENT
    headers = response.headers
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-length"] == str(len(CONTENT))
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["accept-ranges"] == "bytes"
    assert headers["etag"].startswith('"') and len(headers["etag"]) > 20
    assert headers["content-disposition"] == (
        "attachment; filename=\"Offert aao 2024.bin\"; filename*=UTF-8''"
        + quote("Offert åäö 2024.bin")
    )


async def test_images_and_text_are_shown_inline_with_their_type(client) -> None:
    for content, name, media_type in [
        (files.jpeg(), "a.jpg", "image/jpeg"),
        (files.png(), "b.png", "image/png"),
        (b"hello\n", "c.txt", "text/plain; charset=utf-8"),
    ]:
        document = await upload(client, content, name)
        response = await client.get(document["contentUrl"])
        assert response.headers["content-type"] == media_type
        assert response.headers["content-disposition"].startswith(f'inline; filename="{name}"')
        assert response.content == content


async def test_a_file_name_with_quotes_cannot_break_the_header(client) -> None:
    document = await upload(client, b"x\n", 'a";b=c.txt')
    disposition = (await client.get(document["contentUrl"])).headers["content-disposition"]
    assert disposition == "inline; filename=\"a_;b=c.txt\"; filename*=UTF-8''a%22%3Bb%3Dc.txt"


async def test_the_key_may_be_a_query_parameter_for_browsers(app, acme, anonymous, stored) -> None:
    assert (await anonymous.get(stored["contentUrl"])).status_code == 401
    response = await anonymous.get(f"{stored['contentUrl']}?api_key={acme.key}")
    assert response.status_code == 200
    assert response.content == CONTENT
    thumbnail = await anonymous.get(f"{stored['thumbUrl']}?api_token={acme.key}")
    assert thumbnail.status_code == 200


async def test_etag_revalidation_answers_304(client, stored) -> None:
    etag = (await client.get(stored["contentUrl"])).headers["etag"]
    response = await client.get(stored["contentUrl"], headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    other = await client.get(stored["contentUrl"], headers={"If-None-Match": '"other"'})
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=100-", 100, 10240),
        ("bytes=-16", 10224, 10240),
        ("bytes=10000-99999", 10000, 10240),
        ("bytes=-999999", 0, 10240),
        ("BYTES = 5 - 5", 5, 6),
        # Positions longer than any file's: a suffix of all of it, an end past the end.
        ("bytes=-" + "9" * 30, 0, 10240),
        ("bytes=-" + "9" * 100, 0, 10240),
        ("bytes=0-" + "9" * 30, 0, 10240),
        ("bytes=" + "0" * 40 + "7-" + "0" * 40 + "9", 7, 10),
    ],
)
async def test_a_range_answers_206(client, stored, range_header: str, start: int, end: int):
    response = await client.get(stored["contentUrl"], headers={"Range": range_header})
    assert response.status_code == 206
    assert response.content == CONTENT[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(CONTENT)}"
    assert response.headers["content-length"] == str(end - start)


@pytest.mark.parametrize(
    "range_header",
    [
        "bytes=10240-",
        "bytes=99999-100000",
        "bytes=-0",
        "bytes=" + "9" * 30 + "-",
        "bytes=" + "9" * 30 + "-" + "9" * 31,
    ],
)
async def test_a_range_past_the_end_is_416(client, stored, range_header: str) -> None:
    response = await client.get(stored["contentUrl"], headers={"Range": range_header})
    body = assert_family_error(response, 416)
    assert body["error"] == "range_not_satisfiable"
    assert response.headers["content-range"] == f"bytes */{len(CONTENT)}"


@pytest.mark.parametrize(
    "range_header",
    [
        "bytes=5-2",
        "bytes=0-1,5-6",
        "items=0-5",
        "bytes=abc",
        "bytes=-",
        "nonsense",
        # Overlong headers are not parsed at all (Python's int() refuses 5000 digits).
        "bytes=-" + "9" * 5000,
        "bytes=" + "9" * 5000 + "-",
        "bytes=" + ",".join(["0-1"] * 2000),
        "bytes=0-" + " " * 5000 + "1",
    ],
    ids=lambda header: header if len(header) < 40 else f"{header[:20]}...({len(header)})",
)
async def test_other_ranges_are_ignored_and_everything_is_sent(client, stored, range_header):
    response = await client.get(stored["contentUrl"], headers={"Range": range_header})
    assert response.status_code == 200
    assert response.content == CONTENT


async def test_if_range_sends_the_range_only_while_the_etag_matches(client, stored) -> None:
    etag = (await client.get(stored["contentUrl"])).headers["etag"]
    current = await client.get(
        stored["contentUrl"], headers={"Range": "bytes=0-3", "If-Range": etag}
    )
    assert current.status_code == 206
    stale = await client.get(
        stored["contentUrl"], headers={"Range": "bytes=0-3", "If-Range": '"stale"'}
    )
    assert stale.status_code == 200
    assert stale.content == CONTENT


async def test_head_gives_the_headers_without_the_bytes(client, stored) -> None:
    response = await client.head(stored["contentUrl"])
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(CONTENT))
    assert response.headers["etag"]
    assert response.content == b""


async def test_an_external_link_has_no_content_in_the_vault(client) -> None:
    customer = await client.post(
        "/api/1/customer",
        json={"name": "W", "documents": [{"contentUrl": "https://files.example/a.pdf"}]},
    )
    link = customer.json()["documents"][0]
    response = await client.get(f"/vault/document/{link['uuid']}")
    body = assert_family_error(response, 404)
    assert "contentUrl" in body["message"]


@pytest.mark.parametrize("ref", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "0"])
async def test_unknown_documents_are_404(client, ref: str) -> None:
    assert_family_error(await client.get(f"/vault/document/{ref}"), 404)
    assert_family_error(await client.get(f"/vault/thumbnail/{ref}"), 404)
