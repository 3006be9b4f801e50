"""Everything the gateway reads from its environment, checked once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared import config


@dataclass(frozen=True)
class Config:
    port: int = config.GATEWAY_DEFAULT_PORT
    # All interfaces: in a pod the kubelet's probes and the Service reach us from outside.
    host: str = "0.0.0.0"  # noqa: S104
    ingest_addr: str = f"localhost:{config.DEFAULT_PORTS['ingest']}"
    # /readyz answers within this, whatever state ingest is in.
    ready_timeout_s: float = 1.0
    # After SIGTERM, open requests get this long before uvicorn closes them.
    grace_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        return cls(
            port=config.integer(env, "GATEWAY_PORT", config.GATEWAY_DEFAULT_PORT),
            host=config.text(env, "GATEWAY_HOST", cls.host),
            ingest_addr=config.text(env, "GATEWAY_INGEST_ADDR") or config.peer_addr(env, "ingest"),
            ready_timeout_s=config.number(env, "GATEWAY_READY_TIMEOUT_S", 1.0, minimum=0.05),
            grace_s=config.number(env, "GATEWAY_GRACE_S", 10.0),
        )
