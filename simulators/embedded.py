"""Serve ASGI apps with uvicorn as tasks of the caller's event loop (tests, demos)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator, Mapping

import uvicorn
from starlette.types import ASGIApp


def free_ports(count: int = 1) -> list[int]:
    """``count`` distinct ports free on loopback now (each held until all are chosen)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves the host process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _start(app: ASGIApp, sock: socket.socket) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    # log_config=None: an embedded server must not reconfigure the host process's logging.
    config = uvicorn.Config(
        app, log_level="warning", log_config=None, lifespan="off", timeout_graceful_shutdown=2
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
        raise RuntimeError(f"server on {sock.getsockname()} did not start")
    return server, task


@contextlib.asynccontextmanager
async def serve_all(
    apps: Mapping[str, ASGIApp], *, host: str = "127.0.0.1", ports: Mapping[str, int] | None = None
) -> AsyncIterator[dict[str, str]]:
    """Serve several ASGI apps, each on its own port, and stop them together.

    Args:
        apps: the apps by name.
        host: the interface to listen on.
        ports: fixed ports by app name; apps not named get a free port.

    Yields:
        The base URL (`http://host:port`) of each app by name, once all accept connections.
    """
    sockets: list[socket.socket] = []
    running: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
    urls: dict[str, str] = {}
    shown_host = f"[{host}]" if ":" in host else host
    try:
        for name, app in apps.items():
            # Binding first means the port is known, and held, before uvicorn starts.
            bound = socket.create_server((host, (ports or {}).get(name, 0)))
            # Re-made with an explicit TCP protocol: asyncio sets TCP_NODELAY on accepted
            # connections only then, and without it every answer waits ~40 ms for a delayed ACK.
            sock = socket.socket(
                bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach()
            )
            sockets.append(sock)
            urls[name] = f"http://{shown_host}:{sock.getsockname()[1]}"
            running.append(await _start(app, sock))
        yield urls
    finally:
        # Stopped together: each uvicorn shutdown takes a few 100 ms ticks.
        for server, _ in running:
            server.should_exit = True
        await asyncio.gather(*(task for _, task in running), return_exceptions=True)
        for sock in sockets:
            sock.close()


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve one ASGI app (a test double, the product's API) on loopback.

    Yields:
        Its base URL, once it accepts connections.
    """
    async with serve_all({"app": app}, host=host, ports={"app": port}) as urls:
        yield urls["app"]
