"""The ASGI application factory: one app serves the UI, the REST API and operations routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from fireline import __version__
from fireline.accounts import views as account_views
from fireline.connections import views as connection_views
from fireline.connections.tools import Tools
from fireline.core import ratelimit
from fireline.core.db import Database
from fireline.core.groupcommit import GroupCommit
from fireline.core.http import (
    BodyLimits,
    Metrics,
    RequestContextMiddleware,
    install_error_handlers,
)
from fireline.core.ratelimit import RateLimiter
from fireline.egress.resolver import Resolver, resolve
from fireline.incidents import events_views, intake, status_update_views
from fireline.incidents import views as incident_views
from fireline.oauth import views as oauth_views
from fireline.settings import Settings
from fireline.vault.keyring import Keyring, load_keyring
from fireline.vault.sealing import Vault
from fireline.web import assets, frame, pages, workflow_editor
from fireline.web import connections as connection_pages
from fireline.web import incidents as incident_pages
from fireline.web import oauth as oauth_pages
from fireline.web import services as service_pages
from fireline.web import settings as settings_pages
from fireline.web import workflows as workflow_pages
from fireline.workflows import trigger_views, wakeup
from fireline.workflows import views as workflow_views

RATE_LIMIT_SHARE_SECONDS = 1.0
SWAGGER_STATIC = "/static/swagger-ui"


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    keyring: Keyring | None = None,
    resolver: Resolver = resolve,
) -> FastAPI:
    """`database` is owned by the caller when given; otherwise the app opens and closes one.
    Without a valid master key the app refuses to start (CRY-5). `resolver` is the egress
    name resolver (tests map tools' real hostnames to local fakes)."""
    keyring = keyring or load_keyring(settings)
    wakeup.install()  # this process's commits wake workflow engines (here and on other nodes)
    owns_database = database is None
    db = database or Database(settings.database_url,
                        sqlite_synchronous=settings.sqlite_synchronous)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime = getattr(_app.state, "runtime", None)
        if runtime is not None:
            await runtime.start(db, app.state.tools)
        # Several API nodes share one PostgreSQL: they count requests against limits together.
        sharing = None if db.is_sqlite else asyncio.create_task(ratelimit.share_every(
            db, [app.state.rest_limiter, app.state.events_limiter], RATE_LIMIT_SHARE_SECONDS))
        try:
            yield
        finally:
            if sharing is not None:
                sharing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sharing
            if runtime is not None:
                await runtime.stop()
            await app.state.tools.aclose()  # the pooled egress connections
            await app.state.events_intake.close()
            if owns_database:
                await db.dispose()

    app = FastAPI(
        title="Fireline",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # ours below: Swagger UI from the package, so it works offline
        redoc_url=None,
        lifespan=lifespan,
    )
    metrics = Metrics()
    app.state.settings = settings
    app.state.database = db
    app.state.metrics = metrics
    app.state.tools = Tools(settings=settings, keyring=keyring, vault=Vault(keyring),
                            resolver=resolver)
    app.state.rest_limiter = RateLimiter(settings.rest_rate_limit_per_minute, scope="rest")
    app.state.events_limiter = RateLimiter(settings.events_rate_limit_per_minute,
                                           scope="events")
    app.state.events_intake = GroupCommit(db, intake.apply_events)
    install_error_handlers(app, pages=frame)
    app.add_exception_handler(frame.SignInRequired, frame.sign_in_redirect)  # type: ignore[arg-type]
    app.add_middleware(RequestContextMiddleware, metrics=metrics, limits=BodyLimits(
        max_bytes=settings.max_request_bytes,
        read_timeout=settings.request_body_timeout_seconds))

    app.mount(SWAGGER_STATIC, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
              name="swagger-ui")
    for path, static in assets.mounts():  # checked here: a missing asset stops the start
        app.mount(path, static)

    async def api_docs(_request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json", title="Fireline REST API",
            swagger_js_url=f"{SWAGGER_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_STATIC}/favicon-32x32.png")

    # A plain route, as FastAPI's own docs route is: a page, not an operation of the REST API.
    app.add_route("/api/docs", api_docs, include_in_schema=False)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        try:
            await db.ping()
        except Exception:  # any database failure means "not ready"
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(_request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(events_views.router)  # first: the busiest route matches soonest
    app.include_router(account_views.router)
    app.include_router(incident_views.router)
    app.include_router(status_update_views.router)
    app.include_router(connection_views.router)
    app.include_router(trigger_views.router)  # before `/incident_workflows/{id}`
    app.include_router(workflow_views.router)
    app.include_router(oauth_views.router)
    app.include_router(oauth_pages.router)
    app.include_router(pages.router)
    # The editor before the workflow pages: `/incident_workflows/new` is not a workflow id.
    for domain in (connection_pages, incident_pages, service_pages, workflow_editor,
                   workflow_pages, settings_pages):
        app.include_router(domain.router)
    return app


def app_from_env() -> Any:
    """Entry point for `uvicorn --factory fireline.app:app_from_env`."""
    return create_app(Settings.from_env())
