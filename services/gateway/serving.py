"""Run the gateway in-process on a free port: what the bench and the tests share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn

from services.gateway.app import create_app
from services.gateway.config import Config


@contextlib.asynccontextmanager
async def running_gateway(cfg: Config, *, access_log: bool = True) -> AsyncIterator[str]:
    """The real app under uvicorn on port 0; yields its base URL and stops it on exit."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(cfg), host=cfg.host, port=0, log_config=None, access_log=access_log, lifespan="on"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # surfaces why it could not start
            raise RuntimeError("the gateway stopped before it started")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{cfg.host}:{port}"
    finally:
        server.should_exit = True
        await task
