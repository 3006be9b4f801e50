"""Typed settings from the environment, read once at start-up.

A bad value stops the process with one line naming the variable, before
anything binds a port or opens a connection.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# Default ports of the mesh; each is overridable by <SVC>_GRPC_PORT.
DEFAULT_PORTS = {
    "ingest": 50051,
    "intelligence": 50052,
    "routing": 50053,
    "content": 50054,
    "coordinator": 50055,
}
GATEWAY_DEFAULT_PORT = 8080


class ConfigError(RuntimeError):
    pass


def text(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(name, "").strip() or default


def integer(
    env: Mapping[str, str], name: str, default: int, *, minimum: int = 0, maximum: int = 65535
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={value} is out of range; use {minimum}..{maximum}")
    return value


def number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be >= {minimum}")
    return value


def boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def database_url(env: Mapping[str, str], service: str) -> str:
    """<SVC>_DATABASE_URL, else DATABASE_URL: one server, one schema per service."""
    url = text(env, f"{service.upper()}_DATABASE_URL") or text(env, "DATABASE_URL")
    if not url:
        raise ConfigError(
            f"set DATABASE_URL (or {service.upper()}_DATABASE_URL);"
            " `leadengine up` sets it when it starts the embedded server"
        )
    if not url.startswith(("postgres://", "postgresql://")):
        raise ConfigError(f"DATABASE_URL must start with postgresql://, got {url.split(':', 1)[0]}://...")
    return url


def peer_addr(env: Mapping[str, str], service: str) -> str:
    """Where to reach another service: <SVC>_ADDR, else localhost on its default port."""
    return text(env, f"{service.upper()}_ADDR", f"localhost:{DEFAULT_PORTS[service]}")


@dataclass(frozen=True)
class ServerSettings:
    port: int
    drain_s: float = 5.0  # NOT_SERVING but still answering: endpoints catch up
    grace_s: float = 20.0  # in-flight RPCs get this long after we stop accepting
    metrics_port: int = 0  # 0 = no metrics endpoint
    # A plaintext port serving grpc.health.v1 only, for probes that cannot speak mutual TLS
    # (the kubelet's gRPC probe); 0 = none.
    health_port: int = 0
    # Seconds between refreshes of the backlog gauges (outbox, scheduler, dead letters).
    metrics_sample_s: float = 5.0

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str] = os.environ) -> ServerSettings:
        prefix = service.upper()
        return cls(
            port=integer(env, f"{prefix}_GRPC_PORT", DEFAULT_PORTS[service]),
            drain_s=number(env, f"{prefix}_DRAIN_S", 5.0),
            grace_s=number(env, f"{prefix}_GRACE_S", 20.0),
            metrics_port=integer(env, f"{prefix}_METRICS_PORT", 0),
            health_port=integer(env, f"{prefix}_HEALTH_PORT", 0),
            metrics_sample_s=number(env, f"{prefix}_METRICS_SAMPLE_S", 5.0, minimum=0.1),
        )
