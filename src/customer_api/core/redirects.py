"""A path with or without its trailing slash is redirected to the form a route has, with a
relative ``Location``: the framework's own redirect names the host from the request's ``Host``
header, which anyone can set (``Host: evil.com`` would send the client, key and all, there)."""

from urllib.parse import quote

from starlette.responses import RedirectResponse
from starlette.routing import Match, Router
from starlette.types import Receive, Scope, Send

# Characters a path or query keeps as they are; everything else is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?%"


def redirect_slashes_relatively(router: Router) -> None:
    """Replace the router's slash redirects by ones whose ``Location`` is a path and query only,
    resolved by the client against the URL it used (so the scheme and host stay its own)."""
    router.redirect_slashes = False
    not_found = router.default

    async def default(scope: Scope, receive: Receive, send: Send) -> None:
        location = _other_slash_form(router, scope) if scope["type"] == "http" else None
        if location is None:
            await not_found(scope, receive, send)
            return
        await RedirectResponse(location)(scope, receive, send)

    router.default = default


def _other_slash_form(router: Router, scope: Scope) -> str | None:
    """The path (with the query) with its trailing slash removed or added, when a route takes
    that form; never one a client would read as another host (``//host``)."""
    path: str = scope["path"]
    if path.rstrip("/") == scope.get("root_path", "").rstrip("/"):
        return None
    other = path.rstrip("/") if path.endswith("/") else path + "/"
    if other.startswith("//") or not other.startswith("/"):
        return None
    other_scope = {**scope, "path": other}
    if not any(route.matches(other_scope)[0] is not Match.NONE for route in router.routes):
        return None
    location = quote(other, safe=_PATH_SAFE)
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{location}?{quote(query, safe=_QUERY_SAFE)}" if query else location
