"""What a browser may do with the vault's answers: every one is sandboxed and sends no Referer,
and only passive types are shown in place; anything that could run is a download."""

import io

import pytest
from PIL import Image

from tests.documents import files
from tests.documents.helpers import upload

PASSIVE = {
    "content-security-policy": "sandbox",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}
HOSTILE_PAGE = b"<html><body><script>fetch('/api/1/customer')</script></body></html>\n"
HOSTILE_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n'
UNKNOWN = "/vault/document/00000000-0000-0000-0000-000000000000"


def assert_passive(response) -> None:
    for name, value in PASSIVE.items():
        assert response.headers.get_list(name) == [value], (name, response.status_code)


def image(format_name: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(buffer, format_name)
    return buffer.getvalue()


async def test_every_answer_of_the_vault_is_sandboxed(client, anonymous, acme) -> None:
    stored = await upload(client, HOSTILE_PAGE, "page.html")
    url, thumb = stored["contentUrl"], stored["thumbUrl"]
    etag = (await client.get(url)).headers["etag"]
    thumb_etag = (await client.get(thumb)).headers["etag"]
    answers = {
        200: await client.get(url),
        206: await client.get(url, headers={"Range": "bytes=0-5"}),
        304: await client.get(url, headers={"If-None-Match": etag}),
        416: await client.get(url, headers={"Range": "bytes=99999-"}),
        404: await client.get(UNKNOWN),
        401: await anonymous.get(url),
    }
    for status, response in answers.items():
        assert response.status_code == status
        assert_passive(response)
    for response in [
        await client.head(url),
        await anonymous.get(f"{url}?api_key={acme.key}"),
        await client.get(thumb),
        await client.get(thumb, headers={"If-None-Match": thumb_etag}),
        await client.get(UNKNOWN.replace("document", "thumbnail")),
    ]:
        assert response.status_code in (200, 304, 404)
        assert_passive(response)


@pytest.mark.parametrize(
    ("content", "name"), [(HOSTILE_PAGE, "page.html"), (HOSTILE_SVG, "drawing.svg")]
)
async def test_html_and_svg_uploads_are_plain_text_in_a_sandbox(client, content, name) -> None:
    document = await upload(client, content, name, content_type="text/html")
    response = await client.get(document["contentUrl"])
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.content == content


async def test_pdfs_are_downloads_not_shown_in_place(client) -> None:
    document = await upload(client, files.pdf(), "offer.pdf")
    response = await client.get(document["contentUrl"])
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith('attachment; filename="offer.pdf"')
    head = await client.head(document["contentUrl"])
    assert head.headers["content-disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("format_name", "media_type", "inline"),
    [
        ("GIF", "image/gif", True),
        ("WEBP", "image/webp", True),
        ("BMP", "image/bmp", True),
        ("TIFF", "image/tiff", False),
        ("ICO", "image/x-icon", False),
    ],
)
async def test_only_passive_images_are_shown_in_place(client, format_name, media_type, inline):
    document = await upload(client, image(format_name), f"picture.{format_name.lower()}")
    response = await client.get(document["contentUrl"])
    assert response.headers["content-type"] == media_type
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("inline;" if inline else "attachment;")
