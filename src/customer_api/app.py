"""create_app(): the FastAPI application with its lifespan, error handlers and routers."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.types import Scope

from customer_api import __version__
from customer_api.assignments.family.validation import translate_validation
from customer_api.assignments.router import ROUTERS as assignment_routers
from customer_api.auth.dependencies import KEY_SCHEMES, KEYED_PREFIXES, express_principal
from customer_api.auth.middleware import KeyBeforeBodyMiddleware
from customer_api.auth.rate_limits import request_limiter
from customer_api.auth.service import KeyResolver
from customer_api.config import Settings, get_settings
from customer_api.core import metrics
from customer_api.core.conditional import EntityTagMiddleware
from customer_api.core.db import Database
from customer_api.core.errors import (
    ServiceUnavailable,
    install_error_handlers,
)
from customer_api.core.express import ExpressLane, ExpressLaneMiddleware
from customer_api.core.middleware import (
    BodyLimitMiddleware,
    InFlight,
    LoadSheddingMiddleware,
    RequestObservabilityMiddleware,
)
from customer_api.core.openapi import KeySecurity, document_as_served
from customer_api.core.redirects import redirect_slashes_relatively
from customer_api.customers.router import EXPRESS_ROUTES
from customer_api.customers.router import documents_router as customer_documents_router
from customer_api.customers.router import router as customers_router
from customer_api.deletions import service as deletions
from customer_api.documents.router import UPLOAD_PATH, content_router
from customer_api.documents.router import router as documents_router
from customer_api.idempotency.middleware import IdempotencyMiddleware
from customer_api.idempotency.service import KeyStore
from customer_api.search import outbox
from customer_api.search import service as search_service
from customer_api.search.router import router as search_router
from customer_api.vault.storage import LocalStorage
from customer_api.vault.thumbnails import RenderLimits, Thumbnailer
from customer_api.webhooks import running as webhooks_running
from customer_api.webhooks import service as webhooks_service
from customer_api.webhooks.router import describe_events
from customer_api.webhooks.router import router as webhooks_router

DESCRIPTION = """
Customers with projects, full-text search and documents (`/api/1`, the Coredination customer
API), and which employee serves which customer (`/api/v1.0`, the customerEmployees API).

Every call under `/api/` and `/vault/` needs an API key: the `API-Key` header (also accepted:
the `API-Token` header, `Authorization: Bearer <key>`, and the `api_key` or `api_token` query
parameters). Make one with `customer-api keys create --group NAME`.
"""

logger = logging.getLogger("customer_api.ready")
PRUNE_EVERY_SECONDS = 3600
# /ready answers within this, whatever the database does.
READY_TIMEOUT_SECONDS = 2.0

# The docs page: the key is remembered across reloads, and nothing is fetched from the internet
# (the Swagger UI and ReDoc assets are served from the installed fastapi-offline package).
SWAGGER_UI_PARAMETERS = {
    "persistAuthorization": True,
    "displayRequestDuration": True,
    "validatorUrl": None,
}


def create_app(settings: Settings | None = None, *, express: bool = True) -> FastAPI:
    """The app; ``express=False`` leaves out the express lane (core/express.py), so that tests
    can compare its answers with the usual way's."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = Database(
            settings.async_database_url,
            pool_size=settings.database_pool_size,
            pool_timeout=settings.database_pool_timeout,
        )
        app.state.keys = KeyResolver(app.state.database, ttl=settings.key_cache_seconds)
        retention = timedelta(hours=settings.idempotency_key_hours)
        app.state.idempotency = KeyStore(app.state.database, retention=retention)
        app.state.rate_limiter = request_limiter(settings)
        app.state.vault = LocalStorage(settings.vault_dir)
        await app.state.vault.prepare()
        app.state.thumbnailer = Thumbnailer(app.state.vault, render_limits(settings))
        kept_for = timedelta(days=settings.deletion_retention_days)
        pruning = asyncio.create_task(_prune_tombstones(app.state.database, kept_for))
        try:
            async with (
                search_service.running_search(settings, app.state.database) as search,
                webhooks_running.running_dispatcher(settings) as dispatcher,
            ):
                app.state.search = search
                app.state.webhook_dispatcher = dispatcher
                yield
        finally:
            pruning.cancel()
            if app.state.rate_limiter is not None:
                app.state.rate_limiter.close()
            await app.state.thumbnailer.close()
            await app.state.database.dispose()

    app = FastAPIOffline(
        title="Customer API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        # Metrics are Prometheus' (core.metrics) and logs our own: the framework's OpenTelemetry
        # hooks would only cost a check of the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.in_flight = InFlight(settings.max_concurrent_requests)
    app.state.webhook_allowed = webhooks_running.allowed_networks(settings)
    install_error_handlers(app, assignments_validation=translate_validation)
    app.add_middleware(EntityTagMiddleware, prefix="/api/")
    app.add_middleware(IdempotencyMiddleware, store=_idempotency_store)
    app.add_middleware(
        BodyLimitMiddleware,
        max_json_bytes=settings.max_json_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        upload_paths=frozenset({UPLOAD_PATH}),
        body_timeout=settings.body_timeout,
    )
    app.add_middleware(KeyBeforeBodyMiddleware)  # before the caps: no key, no body read
    app.state.express = ExpressLane(
        EXPRESS_ROUTES if express else [],
        authenticate=express_principal,
        max_body_bytes=settings.max_json_bytes,
        body_timeout=settings.body_timeout,
    )
    app.add_middleware(ExpressLaneMiddleware, lane=app.state.express)
    app.add_middleware(LoadSheddingMiddleware, in_flight=app.state.in_flight)
    app.add_middleware(RequestObservabilityMiddleware)  # outermost: sees every answer
    # No two routes match the same path (ids are told apart by their convertors), so this
    # order is only the order of the API's document.
    routers = [
        documents_router,
        customer_documents_router,
        search_router,
        customers_router,
        content_router,
        webhooks_router,
    ]
    for router in [*routers, *assignment_routers]:
        _add_routes(app, router)
    _add_probes(app)
    _add_metrics(app)
    redirect_slashes_relatively(app.router)
    if settings.elasticsearch_url:
        metrics.track_indexer_backlog(app, outbox.waiting, outbox.count_dead_letters)
    document_as_served(app, KeySecurity(KEY_SCHEMES, KEYED_PREFIXES))
    describe_events(app)
    return app


async def _prune_tombstones(database: Database, kept_for: timedelta) -> None:
    """Tombstones past the retention go, at start and then hourly (in every worker: the
    statement is cheap and harmless when repeated)."""
    while True:
        try:
            async with database.transaction() as session:
                await deletions.prune(session, kept_for=kept_for)
        except Exception:  # the database may be restarting: next hour, then
            logger.warning("tombstones not pruned", exc_info=True)
        await asyncio.sleep(PRUNE_EVERY_SECONDS)


def _idempotency_store(scope: Scope) -> KeyStore:
    return scope["app"].state.idempotency


def render_limits(settings: Settings) -> RenderLimits:
    return RenderLimits(
        timeout=settings.thumbnail_timeout,
        cpu_seconds=settings.thumbnail_cpu_seconds,
        memory_bytes=settings.thumbnail_memory_bytes,
        concurrency=settings.thumbnail_concurrency,
        queue=settings.thumbnail_queue,
    )


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes, added to the app's own (as ``include_router`` without options
    would): matched directly, without the bookkeeping FastAPI does on every request for each
    included router (a scan of its routes to see whether they changed)."""
    app.router.routes.extend(router.routes)


def _add_probes(app: FastAPI) -> None:
    @app.get("/health", tags=["operations"], summary="The process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        tags=["operations"],
        summary="The server can take requests",
        description="200 when the database answers and the process has room for more requests; "
        "503 with Retry-After when the database is unreachable, restarting or out of "
        "connections, or the process is saturated.",
        responses={
            503: {
                "description": "Not ready: send traffic elsewhere for now",
                "content": {"application/json": {"example": {"status": "unavailable"}}},
            }
        },
    )
    async def ready() -> JSONResponse:
        if app.state.in_flight.saturated:
            return _not_ready(f"{app.state.in_flight.count} requests in progress")
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                await app.state.database.ping()
        except Exception as exc:  # any failure to reach the database means "not ready"
            return _not_ready(f"database: {type(exc).__name__}: {exc}")
        return JSONResponse({"status": "ok"})


def _not_ready(reason: str) -> JSONResponse:
    """Not ready, without internals for the caller; the reason goes to the log."""
    logger.warning("not ready: %s", reason)
    return JSONResponse({"status": "unavailable"}, 503, headers=ServiceUnavailable.headers)


def _add_metrics(app: FastAPI) -> None:
    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        description="Request counts and latencies by route template and status, and the search "
        "indexer's backlog, in the Prometheus text format (OpenMetrics when asked for). Needs no "
        "key: keep it off the public internet at the reverse proxy.",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics_endpoint(request: Request) -> Response:
        await metrics.refresh_indexer_backlog(app)
        async with app.state.database.reading() as session:
            metrics.set_webhook_figures(await webhooks_service.backlog(session))
        body, content_type = metrics.exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type)
