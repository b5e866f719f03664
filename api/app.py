"""The product's HTTP API (CONTRACTS.md §1), a thin translation into Temporal calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api import (
    codec,
    consumption,
    list_changes,
    month_page,
    ops,
    recipients,
    reports,
    sms,
    vouchers,
)
from api.cors import CodecCors
from api.deps import ApiDeps
from api.errors import install_error_handlers
from api.limits import Door
from api.oidc import OidcVerifier
from api.openapi import install_openapi
from client.codec import EncryptionCodec, parse_keys
from client.connection import connect, product_client
from client.cycles import CycleClient
from models.programs import load_programs
from models.reference import load_reference
from models.settings import Settings
from store.engine import create_engine, create_schema, create_sessions


def create_app(client: Client | None, settings: Settings) -> FastAPI:
    """The ASGI app of the API; without a client, it connects to ``TEMPORAL_ADDRESS`` itself.

    The database schema is created on start-up, idempotently.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A deployment's file that contradicts the shipped data stops the API here, named.
        programs = load_programs(settings.program_data_dir)
        reference = load_reference(settings.program_data_dir)
        temporal = client or await connect(settings)
        engine = create_engine(settings.database_url)
        await create_schema(engine)
        product = product_client(temporal, settings)
        app.state.deps = ApiDeps(
            client=product,
            settings=settings,
            sessions=create_sessions(engine),
            programs=programs,
            reference=reference,
            codec=EncryptionCodec(parse_keys(settings.payload_keys)),
            cycles=CycleClient(
                product,
                task_queue=settings.task_queue,
                programs=programs,
                reference=reference,
                send_spread=settings.send_spread,
            ),
        )
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="Social Wallet voucher orchestrator",
        version="1",
        lifespan=lifespan,
        description="Gas and food voucher cycles of the Social Wallet, on Temporal.",
    )
    install_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    routers = [app.router]
    for module in (recipients, list_changes, sms, vouchers, consumption, reports, codec):
        app.include_router(module.router)
        routers.append(module.router)
    for module in (month_page, ops):
        app.include_router(module.router)
        routers.append(module.router)
    # The door checks tokens before the body is read: before the lifespan's deps exist too.
    app.state.settings = settings
    app.state.tokens = settings.tokens_by_role()
    app.state.oidc = OidcVerifier(settings)
    declared = [route for router in routers for route in router.routes]
    app.add_middleware(Door, routes=declared)
    install_openapi(app, declared, signed=sms.signed_headers)
    # The Temporal Web UI calls the codec routes from the browser, from CODEC_CORS_ORIGINS;
    # added last, it runs first, so that a preflight is answered before the door.
    app.add_middleware(CodecCors, origins=settings.cors_origins())
    return app
