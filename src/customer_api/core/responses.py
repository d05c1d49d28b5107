"""The JSON response of hand-built answers (hot paths): orjson is several times faster than the
standard library's encoder and writes the same JSON for what the API sends."""

from typing import Any

import orjson
from fastapi import Response


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return self.render_of(content)

    @staticmethod
    def render_of(content: Any) -> bytes:
        """The body this response would carry for ``content`` (what its ETag is made of)."""
        return orjson.dumps(content)
