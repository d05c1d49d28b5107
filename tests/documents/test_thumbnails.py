"""GET /vault/thumbnail/{uuid}: images and PDFs rendered (once), icons for everything else."""

import pytest

from tests.documents import files
from tests.documents.helpers import icon_of, thumbnail_of, upload


def thumbnails_kept(vault_dir) -> list:
    return sorted((vault_dir / "thumbnails").rglob("*.jpg"))


async def test_jpeg_thumbnail_is_at_most_512_and_keeps_the_aspect(client) -> None:
    document = await upload(client, files.jpeg((1600, 1200)), "photo.jpg")
    response = await thumbnail_of(client, document)
    assert response.headers["content-type"] == "image/jpeg"
    image = files.opened(response.content)
    assert image.size == (512, 384)


async def test_small_images_are_not_enlarged(client) -> None:
    document = await upload(client, files.png((120, 80)), "small.png")
    assert files.opened((await thumbnail_of(client, document)).content).size == (120, 80)


async def test_exif_orientation_is_applied_and_metadata_stripped(client) -> None:
    # Stored landscape, with orientation 6: the camera was turned, the photo is portrait.
    document = await upload(client, files.jpeg((800, 400), orientation=6), "turned.jpg")
    image = files.opened((await thumbnail_of(client, document)).content)
    assert image.size == (256, 512)
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info


async def test_transparency_is_flattened_onto_white(client) -> None:
    document = await upload(client, files.png((64, 64), transparent=True), "clear.png")
    image = files.opened((await thumbnail_of(client, document)).content)
    assert image.mode == "RGB"
    assert all(channel > 240 for channel in image.getpixel((32, 32)))


async def test_pdf_thumbnail_is_its_first_page(client) -> None:
    document = await upload(client, files.pdf("blue"), "manual.pdf")
    response = await thumbnail_of(client, document)
    assert response.headers["content-type"] == "image/jpeg"
    image = files.opened(response.content)
    assert max(image.size) == 512
    assert image.size[1] > image.size[0]  # A4 portrait
    red, green, blue = image.getpixel((image.width // 2, image.height // 2))
    assert blue > 200 and red < 60 and green < 60


async def test_thumbnail_is_made_once_and_kept(client, vault_dir) -> None:
    document = await upload(client, files.jpeg(), "kept.jpg")
    first = await thumbnail_of(client, document)
    kept = thumbnails_kept(vault_dir)
    assert len(kept) == 1
    assert kept[0].read_bytes() == first.content
    # The kept thumbnail is served even if the original is no longer readable.
    for original in (vault_dir / "documents").rglob("*"):
        if original.is_file():
            original.write_bytes(b"gone")
    second = await thumbnail_of(client, document)
    assert second.content == first.content
    revalidated = await client.get(
        document["thumbUrl"], headers={"If-None-Match": first.headers["etag"]}
    )
    assert revalidated.status_code == 304


@pytest.mark.parametrize(
    ("content", "name", "kind"),
    [
        (b"just some notes\n", "notes.txt", "text/plain"),
        (b"PK\x03\x04" + bytes(100), "archive.zip", "application/zip"),
        (bytes(range(256)), "blob.bin", "application/octet-stream"),
    ],
)
async def test_other_types_get_the_icon_for_their_kind(client, vault_dir, content, name, kind):
    document = await upload(client, content, name)
    response = await thumbnail_of(client, document)
    assert response.headers["content-type"] == "image/png"
    assert response.content == await icon_of(client, kind)
    assert files.opened(response.content).size == (256, 256)
    assert thumbnails_kept(vault_dir) == []


async def test_icons_differ_by_kind(client) -> None:
    pdf_icon = await icon_of(client, "application/pdf")
    text_icon = await icon_of(client, "text/plain")
    image_icon = await icon_of(client, "image/png")
    assert len({pdf_icon, text_icon, image_icon}) == 3


async def test_decompression_bomb_is_refused_and_gets_the_image_icon(client, vault_dir) -> None:
    bomb = files.decompression_bomb(100_000, 100_000)  # 10 gigapixels declared
    assert len(bomb) < 200
    document = await upload(client, bomb, "bomb.png")
    assert document["mimeType"] == "image/png"
    response = await thumbnail_of(client, document)
    assert response.headers["content-type"] == "image/png"
    assert response.content == await icon_of(client, "image/png")
    # The icon is kept in the thumbnail's place: the file is never tried again.
    [kept] = thumbnails_kept(vault_dir)
    assert kept.read_bytes() == response.content


async def test_a_broken_image_or_pdf_gets_an_icon_not_an_error(client) -> None:
    broken_jpeg = files.jpeg()[:200]  # the header only: sniffed as JPEG, undecodable
    broken_pdf = b"%PDF-1.7\n" + b"garbage " * 100
    for content, name, kind in [
        (broken_jpeg, "broken.jpg", "image/jpeg"),
        (broken_pdf, "broken.pdf", "application/pdf"),
    ]:
        document = await upload(client, content, name)
        assert document["mimeType"] == kind
        response = await thumbnail_of(client, document)
        assert response.content == await icon_of(client, kind)


async def test_links_get_their_icon_or_their_own_thumb_url(client) -> None:
    response = await client.post(
        "/api/1/customer",
        json={
            "name": "Links",
            "documents": [
                {"contentUrl": "https://files.example/plan.pdf", "mimeType": "application/pdf"},
                {
                    "contentUrl": "https://files.example/photo",
                    "thumbUrl": "https://files.example/photo-small.jpg",
                },
            ],
        },
    )
    plan, photo = response.json()["documents"]
    assert plan["thumbUrl"] == f"/vault/thumbnail/{plan['uuid']}"
    assert (await thumbnail_of(client, plan)).content == await icon_of(client, "application/pdf")
    assert photo["thumbUrl"] == "https://files.example/photo-small.jpg"
