"""The product's HTTP API (CONTRACTS.md §1), a thin translation into Temporal calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from temporalio.client import Client

from api import codec, consumption, list_changes, recipients, reports, sms, vouchers
from api.deps import ApiDeps
from api.errors import install_error_handlers
from api.limits import Door
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
        temporal = client or await connect(settings)
        engine = create_engine(settings.database_url)
        await create_schema(engine)
        product = product_client(temporal, settings)
        programs, reference = load_programs(), load_reference()
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
    # The door checks tokens before the body is read: before the lifespan's deps exist too.
    app.state.tokens = settings.tokens_by_role()
    declared = [route for router in routers for route in router.routes]
    app.add_middleware(Door, routes=declared)
    install_openapi(app, declared, signed=sms.signed_headers)
    # The Temporal Web UI calls the codec routes from the browser.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["http://localhost:8233", "http://127.0.0.1:8233"],
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
    )
    return app
