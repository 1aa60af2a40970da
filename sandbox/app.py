"""The FastAPI application: one router per resource, errors in the API's shape, the webhook dispatcher in the
lifespan. Routes are registered once under ``/v2/``; :mod:`sandbox.asgi` maps the aliases onto them.

Routes and dependencies are coroutines although they use SQLite: most requests' work is a short transaction under
the store's one lock, so it runs on the event loop. Run in FastAPI's thread pool, two hops per request cost more
CPU than the work itself (bulk import: 2.2 ms of sandbox CPU per request with threads and h11, 1.1 ms now). Two
rules follow: a route that can work for long (a large upload, the admin bulk fixture) is a plain function, which
FastAPI runs in its thread pool; and nothing awaits inside a transaction (the store's lock lets the thread that
holds it in again, and every coroutine runs on the loop's one thread)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sandbox import errors, seed, webhooks
from sandbox.deps import Sandbox
from sandbox.registry import UNDOCUMENTED, Registry
from sandbox.routers import admin, auth, documents, investments, investors, products, redemptions, transfers
from sandbox.settings import PROFILES, Settings
from sandbox.store import Store


def create_app(settings: Settings) -> FastAPI:
    """Open (and on first start seed) the database and build the application."""
    profile = PROFILES[settings.profile]
    store = Store(settings.db, hidden=None if profile.undocumented_fields else UNDOCUMENTED)
    store.claim(profile.name)
    store.db.executescript(webhooks.SCHEMA)
    registry = Registry(store, settings, profile)
    with store.transaction():
        seeded = seed.ensure_seed(store, registry) if settings.seed_demo else {}
    token = settings.admin_token.get_secret_value() if settings.admin_token else secrets.token_urlsafe(24)
    sandbox = Sandbox(settings, profile, store, registry, token, seeded)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        dispatcher = webhooks.Dispatcher(store)
        dispatcher.start()
        try:
            yield
        finally:
            dispatcher.stop()
            store.close()

    app = FastAPI(
        title="Cashlink registry sandbox",
        version="2",
        description=f"A local emulator of Cashlink's Distributor API, answering as the **{profile.name}** profile.",
        redirect_slashes=False,
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
        separate_input_output_schemas=False,
        max_body_size=settings.max_json_bytes,
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},  # (a local emulator reports to no one)
    )
    app.state.sandbox = sandbox
    errors.install(app)
    for module in (auth, documents, investors, products, investments, redemptions, transfers):
        app.include_router(module.router)
    app.include_router(admin.health_router)
    app.include_router(admin.router)
    return app
