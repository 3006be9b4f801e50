"""`python -m services.<svc> [serve|migrate]`: the one way every service starts."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol, TypeVar

from shared import callers, config, db, event_loop, jsonlog, tracing, transport
from shared.clients import Peers
from shared.migrate import migrate
from shared.server import ServiceApp, serve

# Which peers each service calls. Ingest calls the coordinator from its outbox relay, and
# intelligence from the same relay once an import committed (RequestLocationScoring).
DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "ingest": ("coordinator", "intelligence"),
    "intelligence": ("ingest",),
    "routing": ("ingest", "coordinator", "intelligence"),
    "content": (),
    "coordinator": ("ingest", "intelligence", "routing", "content"),
}


class ServiceConfig(Protocol):
    """What run() needs of every service's Config (frozen dataclasses: read-only)."""

    @property
    def database_url(self) -> str: ...

    @property
    def server(self) -> config.ServerSettings: ...


C = TypeVar("C", bound=ServiceConfig)


def peers_from_env(service: str, env: Mapping[str, str], tls: transport.MutualTls | None = None) -> Peers:
    return Peers({dep: config.peer_addr(env, dep) for dep in DEPENDENCIES[service]}, tls=tls)


async def _serve(
    service: str,
    cfg: C,
    make_app: Callable[[db.Database, Peers, C], ServiceApp],
    pool_size: int,
    tls: transport.MutualTls | None,
) -> None:
    pool = await db.create_pool(cfg.database_url, schema=service, service=service, max_size=pool_size)
    peers = peers_from_env(service, os.environ, tls)
    app = make_app(db.Database(pool), peers, cfg)
    app.on_stop.extend([peers.close, pool.close, _flush_traces])
    await serve(app, cfg.server, tls=tls, callers=callers.from_dependencies(DEPENDENCIES))


async def _flush_traces() -> None:
    await asyncio.to_thread(tracing.shutdown)  # exporting may block on the network


def run(
    service: str,
    migrations: Path,
    load_config: Callable[[Mapping[str, str]], C],
    make_app: Callable[[db.Database, Peers, C], ServiceApp],
    *,
    pool_size: int = 10,
) -> None:
    jsonlog.configure(service, os.environ.get("LOG_LEVEL", "INFO"))
    tracing.configure(service, os.environ)
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command not in ("serve", "migrate"):
        raise SystemExit(f"{service}: unknown command {command!r}; use serve or migrate")
    try:
        cfg = load_config(os.environ)
        tls = transport.from_env(os.environ)
        loop_factory = event_loop.factory(os.environ)
    except config.ConfigError as err:
        raise SystemExit(f"{service}: configuration error: {err}") from None
    if command == "migrate":
        asyncio.run(migrate(cfg.database_url, service, migrations))
    else:
        event_loop.run(_serve(service, cfg, make_app, pool_size, tls), loop_factory)
