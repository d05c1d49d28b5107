"""Uploads over the real app, and looks at what the vault directory and the tables hold."""

from pathlib import Path

from sqlalchemy import func, select

from customer_api.documents.models import CustomerDocument, Document

# The upload limit of the document tests (see conftest.py).
UPLOAD_LIMIT = 256 * 1024

# Multipart bodies built by hand, for what a client library would not send.
BOUNDARY = "----cutoff-boundary-7d1"


def multipart_head(name: str = "file", file_name: str = "cut.bin") -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def stored_files(vault_dir: Path) -> list[Path]:
    """Every file under the vault directory, temporary ones included."""
    return sorted(path for path in vault_dir.rglob("*") if path.is_file())


async def upload(
    client, content: bytes, name: str = "file.bin", content_type: str = "application/octet-stream"
) -> dict:
    response = await client.post(
        "/api/1/document/content", files={"file": (name, content, content_type)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body["document"]


async def count_rows(app, model) -> int:
    async with app.state.database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def count_documents(app) -> int:
    return await count_rows(app, Document)


async def count_links(app) -> int:
    return await count_rows(app, CustomerDocument)


def assert_family_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"] and body["message"]
    return body


async def thumbnail_of(client, document: dict):
    response = await client.get(document["thumbUrl"])
    assert response.status_code == 200, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    return response


async def icon_of(client, mime_type: str) -> bytes:
    """The icon for a kind, as served for a link document of that type."""
    customer = await client.post(
        "/api/1/customer",
        json={
            "name": "Icons",
            "documents": [{"contentUrl": "https://files.example/x", "mimeType": mime_type}],
        },
    )
    return (await thumbnail_of(client, customer.json()["documents"][0])).content
