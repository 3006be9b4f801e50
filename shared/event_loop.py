"""Which asyncio event loop a service process runs on: uvloop unless EVENT_LOOP=asyncio.

uvloop's loop and transports are C (libuv): every gRPC call and every PostgreSQL round trip
passes through the loop and a socket transport, and those are a large part of each service's
CPU per call (see BENCHMARKS.md). asyncio stays selectable for a platform without uvloop or
to rule the loop out when chasing a bug.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from shared.config import ConfigError

T = TypeVar("T")

CHOICES = ("uvloop", "asyncio")


def factory(env: Mapping[str, str]) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop factory EVENT_LOOP names (None: asyncio's default loop)."""
    choice = env.get("EVENT_LOOP", "uvloop").strip().lower() or "uvloop"
    if choice not in CHOICES:
        raise ConfigError(f"EVENT_LOOP must be one of {', '.join(CHOICES)}, not {choice!r}")
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError as err:
        raise ConfigError(
            "EVENT_LOOP=uvloop but uvloop is not installed; install it or set EVENT_LOOP=asyncio"
        ) from err
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], loop_factory: Callable[[], asyncio.AbstractEventLoop] | None) -> T:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main)
