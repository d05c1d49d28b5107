import re
import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field

from customer_api.core.schemas import (
    CamelInput,
    CamelModel,
    Flag,
    Int32,
    JsonObject,
    model_values,
    omittable,
    text_field,
)
from customer_api.core.timestamps import to_epoch_ms
from customer_api.documents.models import MAX_URL_LENGTH, Document

MAX_FILE_NAME = 255
# Characters no file name needs: controls, and the invisible formatting ones (e.g. U+202E,
# which shows "gpj.exe" as "exe.jpg").
_UNWANTED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def clean_file_name(raw: str | None) -> str | None:
    """The base name of a client's file name, without path parts or unwanted characters, at
    most MAX_FILE_NAME characters (keeping the extension); None when nothing is left."""
    if raw is None:
        return None
    text = unicodedata.normalize("NFC", raw)
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _UNWANTED_CATEGORIES)
    text = text.strip()
    if text in ("", ".", ".."):
        return None
    if len(text) > MAX_FILE_NAME:
        stem, dot, extension = text.rpartition(".")
        if dot and stem and len(extension) < 16:
            text = stem[: MAX_FILE_NAME - len(extension) - 1] + "." + extension
        else:
            text = text[:MAX_FILE_NAME]
    return text


FileName = Annotated[str, Field(max_length=10_000), AfterValidator(clean_file_name)]
Description = text_field(10_000)
# An absolute http(s) URL with a host, without white space or control characters: what the
# service accepts for contentUrl and thumbUrl, stated so the OpenAPI document says it too.
WEB_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s\x00-\x1f/?#\[\]@]+([/?#][^\s\x00-\x1f]*)?$"
UrlText = text_field(MAX_URL_LENGTH)
_WEB_URL = {"type": "string", "pattern": WEB_URL_PATTERN}
MimeTypeText = text_field(255)

_READ_ONLY = Field(default=None, exclude=True, json_schema_extra={"readOnly": True})


class DocumentRead(CamelModel):
    """The Document object, with exactly the fields of the source API's example."""

    uuid: UUID
    thumb_url: str | None
    size: int | None = Field(description="Bytes; null for an external link")
    mime_type: str
    last_modified: int = Field(description="Epoch milliseconds, UTC")
    content_url: str
    creation_time_stamp: int = Field(description="Epoch milliseconds, UTC")
    creator_id: int | None = Field(description="Always null: documents made with an API key")
    description: str | None
    file_name: str | None
    group_id: int
    id: int
    internal: bool

    @classmethod
    def of(cls, document: Document) -> "DocumentRead":
        return cls.model_validate(document_json(model_values(document)))


def document_json(document: Mapping[str, Any]) -> JsonObject:
    """The Document object, ready for JSON, from a row (or a model's values).

    Built directly (a customer's answer may carry many documents); DocumentRead documents the
    same shape, and a test holds the two together.
    """
    uuid = str(document["uuid"])
    return {
        "uuid": uuid,
        "thumbUrl": document["thumb_url"] or f"/vault/thumbnail/{uuid}",
        "size": document["size"],
        "mimeType": document["mime_type"],
        "lastModified": to_epoch_ms(document["modified"]),
        "contentUrl": document["external_url"] or f"/vault/document/{uuid}",
        "creationTimeStamp": to_epoch_ms(document["created"]),
        "creatorId": None,
        "description": document["description"],
        "fileName": document["file_name"],
        "groupId": document["group_id"],
        "id": document["id"],
        "internal": document["internal"],
    }


class UploadRead(CamelModel):
    """The Upload DTO: the stored document, and that the storage succeeded."""

    success: bool = True
    document: DocumentRead


class _SentBackFields(CamelInput):
    """Fields of a Document a client may send back as it read them: accepted and ignored."""

    thumb_url: Any = _READ_ONLY
    size: Any = _READ_ONLY
    mime_type: Any = _READ_ONLY
    last_modified: Any = _READ_ONLY
    content_url: Any = _READ_ONLY
    creation_time_stamp: Any = _READ_ONLY
    creator_id: Any = _READ_ONLY
    group_id: Any = _READ_ONLY
    id: Any = _READ_ONLY
    uuid: Any = _READ_ONLY


class DocumentUpdate(_SentBackFields):
    """PUT /document/{did}: the meta data a client may change. Fields left out stay."""

    description: Description | None = None
    file_name: FileName | None = None
    internal: Flag = omittable()  # a document is internal or not: never null

    WRITABLE: ClassVar[frozenset[str]] = frozenset({"description", "file_name", "internal"})

    def given_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set & self.WRITABLE}


class DocumentItem(CamelInput):
    """An item of a customer's ``documents`` list: a reference to an existing document (by
    ``uuid`` or ``id``), or a new link to a file elsewhere (``contentUrl`` and friends).

    A reference's other fields are what the client read and are ignored: meta data is changed
    with PUT /document/{did}.
    """

    model_config = ConfigDict(
        **CamelInput.model_config,
        json_schema_extra={
            # Either a reference, or a link whose URLs are absolute http(s) ones.
            "anyOf": [
                {"required": ["uuid"], "properties": {"uuid": {"type": "string"}}},
                {"required": ["id"], "properties": {"id": {"type": "integer"}}},
                {
                    "required": ["contentUrl"],
                    "properties": {
                        "contentUrl": _WEB_URL,
                        # Blank or null: no thumbnail of its own (the icon for its type).
                        "thumbUrl": {
                            "anyOf": [
                                _WEB_URL,
                                {"type": "string", "pattern": r"^\s*$"},
                                {"type": "null"},
                            ]
                        },
                    },
                },
            ]
        },
    )

    id: Int32 | None = None
    uuid: UUID | None = None
    content_url: UrlText | None = None
    thumb_url: UrlText | None = None
    mime_type: MimeTypeText | None = None
    file_name: FileName | None = None
    description: Description | None = None
    internal: Flag | None = None
    size: Any = _READ_ONLY
    last_modified: Any = _READ_ONLY
    creation_time_stamp: Any = _READ_ONLY
    creator_id: Any = _READ_ONLY
    group_id: Any = _READ_ONLY

    @property
    def is_reference(self) -> bool:
        return self.id is not None or self.uuid is not None
