"""EVENT_LOOP picks the services' event loop; a wrong value stops start-up with a clear error."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from shared import event_loop
from shared.config import ConfigError


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_uvloop_is_the_default() -> None:
    factory = event_loop.factory({})
    assert factory is uvloop.new_event_loop
    assert event_loop.run(_loop_type(), factory) is uvloop.Loop


def test_asyncio_can_be_chosen() -> None:
    factory = event_loop.factory({"EVENT_LOOP": "asyncio"})
    assert factory is None
    assert not issubclass(event_loop.run(_loop_type(), factory), uvloop.Loop)


def test_an_unknown_loop_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="EVENT_LOOP must be one of uvloop, asyncio"):
        event_loop.factory({"EVENT_LOOP": "trio"})
