"""A stand-in for the few Elasticsearch APIs the application calls, used only where a test must
inject a fault a real engine will not produce on demand: a whole bulk request answered with an
error status, a delete item answered ``index_not_found_exception``, shards failing during a
scroll, a document refused by name. Everything else is tested against a real engine
(tests/search/engine.py). It keeps indices, aliases and documents and applies
``external_gte`` versions as Elasticsearch documents them; it accepts what a real engine may
refuse, and its search only filters by group (no ranking)."""

import json
from typing import Any
from urllib.parse import parse_qs

import httpx
from elastic_transport import HttpxAsyncHttpNode
from elasticsearch import AsyncElasticsearch

Documents = dict[str, tuple[int, dict[str, Any] | None]]
"""id -> (version, source); a source of None is a deletion's tombstone."""


class StandInElasticsearch:
    def __init__(self) -> None:
        self.indices: dict[str, Documents] = {}
        self.definitions: dict[str, dict[str, Any]] = {}
        self.aliases: dict[str, set[str]] = {}
        self.refused: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        # Faults to inject.
        self.bulk_status: int | None = None
        """Answer every bulk request as a whole with this status."""
        self.deletes_find_no_index = False
        """Answer delete items with ``index_not_found_exception``."""
        self.scroll_shards_fail = False
        """Report a failed shard in scrolled searches."""
        self.search_status: int | None = None
        """Answer searches with this error status."""

    # What tests look at.

    def alias_target(self, alias: str = "customers") -> str:
        (index,) = self.aliases[alias]
        return index

    @property
    def documents(self) -> Documents:
        """The documents behind the ``customers`` alias (made on first use)."""
        if "customers" not in self.aliases:
            self.indices["customers-0"] = {}
            self.aliases["customers"] = {"customers-0"}
        return self.indices[self.alias_target()]

    def source(self, customer_id: int) -> dict[str, Any] | None:
        entry = self.documents.get(str(customer_id))
        return entry[1] if entry else None

    # The HTTP side.

    async def __call__(self, scope, receive, send) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        method, path = scope["method"], scope["path"]
        query = {
            key: values[-1] for key, values in parse_qs(scope["query_string"].decode()).items()
        }
        self.requests.append((method, path))
        status, payload = self._route(method, path.strip("/").split("/"), query, body)
        headers = [(b"content-type", b"application/json"), (b"x-elastic-product", b"Elasticsearch")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})

    def _route(self, method: str, parts: list[str], query: dict, body: bytes):
        if parts[-1] == "_bulk":
            if self.bulk_status is not None:
                error = {"type": "some_exception", "reason": "injected"}
                return self.bulk_status, {"error": error, "status": self.bulk_status}
            return 200, self._bulk(body)
        if parts[0] == "_alias":
            indices = self.aliases.get(parts[1], set())
            if not indices:
                return 404, {"error": "alias missing", "status": 404}
            return 200, {index: {"aliases": {parts[1]: {}}} for index in indices}
        if parts == ["_aliases"]:
            return 200, self._update_aliases(json.loads(body))
        if parts[:2] == ["_search", "scroll"]:
            shards = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
            return 200, {"hits": {"hits": []}, "_scroll_id": "s1", "_shards": shards}
        if len(parts) == 2 and parts[1] == "_refresh":
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if len(parts) == 2 and parts[1] == "_search":
            if self.search_status is not None:
                error = {"type": "some_exception", "reason": "injected"}
                return self.search_status, {"error": error, "status": self.search_status}
            return 200, self._search(parts[0], json.loads(body or b"{}"), query)
        if len(parts) == 1 and method == "PUT":
            return 200, self._create(parts[0], json.loads(body))
        if len(parts) == 1 and method == "DELETE":
            self.indices.pop(parts[0], None)
            for indices in self.aliases.values():
                indices.discard(parts[0])
            return 200, {"acknowledged": True}
        return 400, {"error": f"not emulated: {method} /{'/'.join(parts)}", "status": 400}

    def _create(self, name: str, definition: dict[str, Any]) -> dict[str, Any]:
        self.indices[name] = {}
        self.definitions[name] = definition
        for alias in definition.get("aliases") or {}:
            self.aliases.setdefault(alias, set()).add(name)
        return {"acknowledged": True, "index": name}

    def _update_aliases(self, request: dict[str, Any]) -> dict[str, Any]:
        for action in request["actions"]:
            ((kind, target),) = action.items()
            indices = self.aliases.setdefault(target["alias"], set())
            if kind == "add":
                indices.add(target["index"])
            else:
                indices.discard(target["index"])
        return {"acknowledged": True}

    def _resolve(self, name: str) -> str:
        return self.alias_target(name) if name in self.aliases else name

    def _search(self, name: str, body: dict[str, Any], query: dict) -> dict[str, Any]:
        filters = body.get("query", {}).get("bool", {}).get("filter", [])
        wanted = {key: value for clause in filters for key, value in clause["term"].items()}
        hits = [
            {"_id": doc_id, "_score": 1.0}
            for doc_id, (_, source) in sorted(self.indices[self._resolve(name)].items())
            if source is not None and all(source.get(k) == v for k, v in wanted.items())
        ]
        failed = int(self.scroll_shards_fail and "scroll" in query)
        shards = {"total": 1, "successful": 1 - failed, "skipped": 0, "failed": failed}
        size = int(query.get("size", body.get("size", 10)))
        return {"hits": {"hits": hits[:size]}, "_scroll_id": "s1", "_shards": shards}

    def _bulk(self, body: bytes) -> dict[str, Any]:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        items = []
        while lines:
            ((op_type, meta),) = lines.pop(0).items()
            source = lines.pop(0) if op_type == "index" else None
            items.append({op_type: self._apply(op_type, meta, source)})
        errors = any(item[op]["status"] >= 300 for item in items for op in item)
        return {"took": 1, "errors": errors, "items": items}

    def _apply(self, op_type: str, meta: dict[str, Any], source) -> dict[str, Any]:
        doc_id, version = meta["_id"], meta["version"]
        assert meta["version_type"] == "external_gte"
        if op_type == "delete" and self.deletes_find_no_index:
            error = {"type": "index_not_found_exception", "reason": "no such index"}
            return {"_id": doc_id, "status": 404, "error": error}
        if doc_id in self.refused:
            error = {"type": "document_parsing_exception", "reason": "refused"}
            return {"_id": doc_id, "status": 400, "error": error}
        documents = self.indices[self._resolve(meta["_index"])]
        current = documents.get(doc_id)
        if current and version < current[0]:
            error = {"type": "version_conflict_engine_exception", "reason": "newer version"}
            return {"_id": doc_id, "status": 409, "error": error}
        documents[doc_id] = (version, source)
        if op_type == "delete" and (current is None or current[1] is None):
            return {"_id": doc_id, "status": 404, "result": "not_found"}
        return {"_id": doc_id, "status": 200, "result": "updated"}


def client_for(stand_in: StandInElasticsearch) -> AsyncElasticsearch:
    """The official client, its HTTP requests answered by the stand-in."""

    class Node(HttpxAsyncHttpNode):
        def __init__(self, config) -> None:
            super().__init__(config)
            self.client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=stand_in), base_url="http://stand-in:9200"
            )

    return AsyncElasticsearch("http://stand-in:9200", node_class=Node)
