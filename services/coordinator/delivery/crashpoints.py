"""Deliberate crashes on the send path, for the fault tests only.

`COORDINATOR_CRASH_POINTS=before_call:0.05,after_call:0.05` makes the process SIGKILL
itself at those points with those probabilities: exactly what a power cut or an OOM kill
does there. Unset (always, outside the fault tests) this does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
from collections.abc import Mapping

from shared.config import ConfigError

log = logging.getLogger(__name__)
POINTS = ("before_call", "during_call", "after_call", "after_commit")
# "during_call" fires this long after the request left, while the provider holds it.
DURING_CALL_DELAY_S = 0.05


def parse(raw: str) -> dict[str, float]:
    points: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, _, chance = part.partition(":")
        if name not in POINTS:
            raise ConfigError(f"COORDINATOR_CRASH_POINTS: unknown point {name!r}; use {', '.join(POINTS)}")
        try:
            points[name] = float(chance)
        except ValueError:
            raise ConfigError(
                f"COORDINATOR_CRASH_POINTS: {part!r} needs a probability, e.g. {name}:0.1"
            ) from None
    return points


class CrashPoints:
    def __init__(self, points: Mapping[str, float] | None = None) -> None:
        self._points = dict(points or {})
        self._rng = random.Random()  # noqa: S311 - fault injection, not security

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CrashPoints:
        return cls(parse(env.get("COORDINATOR_CRASH_POINTS", "")))

    def _hit(self, point: str) -> bool:
        chance = self._points.get(point)
        return bool(chance) and self._rng.random() < (chance or 0.0)

    @staticmethod
    def _die(point: str) -> None:
        # Printed, not logged: the fault test counts these lines from stdout.
        print(f"CRASHPOINT {point}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    def at(self, point: str) -> None:
        if self._hit(point):
            self._die(point)

    def arm(self, point: str) -> asyncio.TimerHandle | None:
        """A crash a moment from now (cancel it when the awaited call returns first)."""
        if not self._hit(point):
            return None
        return asyncio.get_running_loop().call_later(DURING_CALL_DELAY_S, self._die, point)
